"""Every Redis key name, in one place.

Redis Cluster runs a Lua script only when every key it is called with lies in one hash slot
(otherwise CROSSSLOT). So:

- Keys of one event share the hash tag ``{event_id}``: ``room:{e}...``, ``ev:{e}...``, ``stats:{e}``.
- A reservation record is read by its id alone (``GET /reservations/{id}``), yet the event's
  scripts write it together with the event's keys. Its id carries the event's slot: the first
  six hex digits of a reservation id (``reservation_id(event_id)``) are a tag that hashes to the
  event's slot, and the record's key ``res:{<those six digits>}:<id>`` uses it as hash tag.
- The join's rate-limit keys carry the event's tag too (``rl:{e}:...``: room_join.lua counts them).
  Every other key (the other rate limits, leases, heartbeats) is used alone, one key per command or script.

tests/slots.py checks that every script call of the unit tests touches one slot. ``prefix``
(REDIS_PREFIX) lets tests and deployments share a server; it sits outside the hash tag.
"""

from __future__ import annotations

import uuid
from binascii import crc_hqx
from dataclasses import dataclass

#: Redis Cluster's number of hash slots.
CLUSTER_SLOTS = 16384
#: Hex digits at the start of a reservation id that form its key's hash tag.
SLOT_TAG_DIGITS = 6


def key_slot(key: str) -> int:
    """The Redis Cluster hash slot of ``key`` (CRC16 of its hash tag, or of the whole key)."""
    raw = key.encode()
    start = raw.find(b"{")
    if start > -1:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1:end]
    return crc_hqx(raw, 0) % CLUSTER_SLOTS


def _tag_solver() -> tuple[int, list[tuple[int, int]]]:
    """Redis's CRC16 (XMODEM, ``crc_hqx`` from 0) is linear over XOR for messages of one length.
    A tag of six digits '0'-'7' (0x30 | three free bits) is "000000" XOR 18 free bits, so the
    slot of a tag is crc("000000") XOR a linear map of those bits, whose 14 low bits have rank 14:
    Gaussian elimination over GF(2) finds the bits for any slot at once.
    Returns (slot of "000000", [(pivot-reduced slot vector, the free bits giving it)])."""
    zero = b"0" * SLOT_TAG_DIGITS
    base = crc_hqx(zero, 0) % CLUSTER_SLOTS
    rows: list[tuple[int, int]] = []
    for bit in range(3 * SLOT_TAG_DIGITS):
        tag = bytearray(zero)
        tag[bit // 3] = 0x30 | (1 << (bit % 3))
        vector, combo = (crc_hqx(bytes(tag), 0) % CLUSTER_SLOTS) ^ base, 1 << bit
        for row_vector, row_combo in rows:
            if vector ^ row_vector < vector:  # row_vector's top bit is set in vector: clear it
                vector, combo = vector ^ row_vector, combo ^ row_combo
        if vector:
            rows.append((vector, combo))
            rows.sort(reverse=True)
    return base, rows


_TAG_BASE, _TAG_ROWS = _tag_solver()


def slot_tag(slot: int) -> str:
    """A six-digit tag (digits 0-7) whose CRC16 lies in ``slot``."""
    want, bits = slot ^ _TAG_BASE, 0
    for vector, combo in _TAG_ROWS:
        if want ^ vector < want:
            want, bits = want ^ vector, bits ^ combo
    if want:
        raise AssertionError(f"no tag for slot {slot}")  # pragma: no cover - a unit test covers every slot
    return "".join(str(bits >> (3 * i) & 7) for i in range(SLOT_TAG_DIGITS))


def reservation_id(event_id: str) -> str:
    """A new random reservation id (UUID version 4 layout) whose record shares ``event_id``'s slot.

    The first six hex digits are the event's slot tag; 98 random bits remain.
    """
    return slot_tag(key_slot(event_id)) + str(uuid.uuid4())[SLOT_TAG_DIGITS:]


@dataclass(frozen=True)
class Keys:
    prefix: str = "td:"

    # -- waiting room (models/waiting_room*) -------------------------------------------
    def room(self, event_id: str) -> str:
        """Hash: the event's queue state (counters, admitted_up_to, flags)."""
        return f"{self.prefix}room:{{{event_id}}}"

    def room_bucket(self, event_id: str, bucket: int) -> str:
        """Small hash (listpack-encoded): token id -> position, one of many buckets."""
        return f"{self.prefix}room:{{{event_id}}}:b:{bucket}"

    def room_bucket_prefix(self, event_id: str) -> str:
        """``room_bucket(event_id, b)`` is this followed by ``b`` (a join builds its key from it)."""
        return f"{self.prefix}room:{{{event_id}}}:b:"

    def room_waves(self, event_id: str) -> str:
        """Sorted set of admission waves: score last_position, member "first:last:admitted_at_ms:capacity"."""
        return f"{self.prefix}room:{{{event_id}}}:waves"

    def room_hmacs(self, event_id: str) -> str:
        """String: the revealed pre-queue HMACs, 32 raw bytes each, in queue order."""
        return f"{self.prefix}room:{{{event_id}}}:hmacs"

    def room_lease(self, event_id: str) -> str:
        return f"{self.prefix}room:{{{event_id}}}:lease"

    def room_prequeue_buckets(self, event_id: str) -> str:
        """Set of bucket numbers holding pre-queue fans (an intset: at most 32 KB)."""
        return f"{self.prefix}room:{{{event_id}}}:pb"

    def room_journal(self, event_id: str) -> str:
        """List of joins not yet copied to the queue_entries table: "field:position" each."""
        return f"{self.prefix}room:{{{event_id}}}:journal"

    def room_used(self, event_id: str) -> str:
        """Bitmap: bit <position> set once that admitted fan made a reservation."""
        return f"{self.prefix}room:{{{event_id}}}:used"

    # -- inventory and reservations (models/inventory, models/reservations) ------------
    def stock(self, event_id: str) -> str:
        """Hash: tier id -> tickets still available (capacity - sold - held)."""
        return f"{self.prefix}ev:{{{event_id}}}:stock"

    def user_counts(self, event_id: str) -> str:
        """Hash: user id -> tickets in live holds + paid orders (the per-event cap)."""
        return f"{self.prefix}ev:{{{event_id}}}:users"

    def live_reservations(self, event_id: str) -> str:
        """Hash: user id -> id of the user's pending or held reservation."""
        return f"{self.prefix}ev:{{{event_id}}}:live"

    def mailbox(self, event_id: str) -> str:
        """List: reservation requests waiting to be decided, FIFO."""
        return f"{self.prefix}ev:{{{event_id}}}:mailbox"

    def drain_flag(self, event_id: str) -> str:
        """String: set while a drain message is queued or running for the event."""
        return f"{self.prefix}ev:{{{event_id}}}:drain"

    def event_lease(self, event_id: str) -> str:
        """String: the per-event lease of the worker deciding its requests."""
        return f"{self.prefix}ev:{{{event_id}}}:lease"

    def settle_flag(self, event_id: str) -> str:
        """String: set while a settle_checkouts message is queued or running for the event."""
        return f"{self.prefix}ev:{{{event_id}}}:settle"

    def waitlist(self, event_id: str) -> str:
        """Hash: tier id -> fans waiting on its waitlist (only tiers with some). While a tier has
        any, the reservation gate keeps its returned stock for them (models/waitlist/)."""
        return f"{self.prefix}ev:{{{event_id}}}:wl"

    def offers_due(self, event_id: str) -> str:
        """String: set while an "offers" marker waits in the event's mailbox (one at a time)."""
        return f"{self.prefix}ev:{{{event_id}}}:offers"

    def reservation(self, reservation_id: str) -> str:
        """Hash: a reservation's current state, read by the polling endpoint. The id's first
        six digits are the hash tag: its event's slot for ids made by ``reservation_id()``."""
        return f"{self.prefix}res:{{{reservation_id[:SLOT_TAG_DIGITS]}}}:{reservation_id}"

    def outcomes_channel(self) -> str:
        """Pub/sub channel where workers announce decided reservations and checkouts."""
        return f"{self.prefix}outcomes"

    # -- operations ---------------------------------------------------------------------
    def rate(self, scope: str, subject: str) -> str:
        """String: one rate-limit policy's state for one subject (used alone: one key per script)."""
        return f"{self.prefix}rl:{scope}:{subject}"

    def event_rate(self, event_id: str, scope: str, subject: str) -> str:
        """String: one rate-limit policy's state for one subject in one event, in the event's slot
        (the join's limits are counted by room_join.lua, in the join's own call)."""
        return f"{self.prefix}rl:{{{event_id}}}:{scope}:{subject}"

    def event_rate_prefix(self, event_id: str, scope: str) -> str:
        """``event_rate(event_id, scope, subject)`` is this followed by ``subject``."""
        return f"{self.prefix}rl:{{{event_id}}}:{scope}:"

    def sweep_lease(self, name: str) -> str:
        return f"{self.prefix}sweep:{name}:lease"

    def worker_heartbeat(self) -> str:
        return f"{self.prefix}worker:heartbeat"

    def health_echo(self, nonce: str) -> str:
        return f"{self.prefix}health:echo:{nonce}"

    def stats(self, event_id: str) -> str:
        """Hash: per-event counters for the dashboard (reservations by outcome, orders)."""
        return f"{self.prefix}stats:{{{event_id}}}"

    def stats_series(self, event_id: str) -> str:
        """Sorted set of per-second samples for the dashboard charts."""
        return f"{self.prefix}stats:{{{event_id}}}:series"
