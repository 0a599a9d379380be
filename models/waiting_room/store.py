"""The waiting room's Redis layout, in one place (the Lua scripts are models/lua/room_*.lua).

Per event (every key shares the hash tag ``{event_id}``, so scripts touch one cluster slot):

- ``room`` hash: ``live`` (present once the room is open: created fresh, or restored from the
  database after a Redis data loss; joins and admission checks refuse to run without it),
  ``pre`` (pre-queue joins), ``seq`` (joins after on-sale), ``pclosed`` (ms the
  pre-queue closed; its size is final from then), ``opened`` (ms the draw wrote pre-queue
  positions), ``up_to`` (last admitted position), ``next_due`` (ms the next wave is due),
  ``used`` / ``expired`` (admissions that reserved / lapsed unused), ``exp_pos`` (expiry cursor),
  ``dbw`` (waves copied to the admission_waves table), ``dur`` (positions 1..dur are in the
  queue_entries table: only those may be admitted, so every admitted place survives Redis).
- ``BUCKETS`` small ``bucket`` hashes: token field -> position (0 = pre-queue, not drawn yet).
  A few dozen entries each, so Redis keeps them listpack-encoded: about 30 bytes per fan.
- ``waves`` sorted set: score = last position, member ``first:last:admitted_at_ms:capacity``.
- ``pb`` set: numbers of the buckets holding pre-queue fans, so the draw reads only those.
- ``journal`` list: "field:position" of each join not yet copied to queue_entries.
- ``used`` bitmap (bit per position), ``hmacs`` string (the drawn pre-queue HMACs, 32 raw bytes
  each, in queue order), ``lease`` (the scheduler step's lease).
- Beside the room, in its slot: the join's rate limits, ``rl:{e}:<scope>:<subject>`` (GCRA state,
  counted by room_join.lua before it joins: ``join_call``).

Positions are 1..total without gaps: the pre-queue takes 1..pre (drawn at on-sale), later joins
take pre+1.. in arrival order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from models.keys import Keys
from models.ratelimit import Policy
from models.redis import scripts
from models.waiting_room.tokens import Token


@dataclass(frozen=True)
class RoomCounters:
    """The ``room`` hash, parsed."""

    pre: int = 0
    seq: int = 0
    prequeue_closed: bool = False
    opened: bool = False
    up_to: int = 0
    next_due_ms: int = 0
    used: int = 0
    expired: int = 0
    live: bool = False
    durable: int = 0
    #: When the room went live (ms): set when it is created and again when it is restored after a
    #: Redis loss, so it names the room's generation (clients re-read their place when it changes).
    live_since_ms: int = 0

    @property
    def total(self) -> int:
        return self.pre + self.seq

    @property
    def live_unused(self) -> int:
        """Admitted fans who may still reserve and have not (each may take at least a ticket)."""
        return max(0, self.up_to - self.used - self.expired)

    @classmethod
    def parse(cls, raw: dict[str, str] | None) -> RoomCounters:
        raw = raw or {}

        def num(name: str) -> int:
            return int(raw.get(name) or 0)

        return cls(
            pre=num("pre"), seq=num("seq"), prequeue_closed="pclosed" in raw, opened="opened" in raw,
            up_to=num("up_to"), next_due_ms=num("next_due"), used=num("used"), expired=num("expired"),
            live="live" in raw, durable=num("dur"), live_since_ms=num("live"),
        )


@dataclass(frozen=True)
class Wave:
    """One admission wave: positions first..last, admitted at ``admitted_at_ms``.
    ``capacity`` is what it could have admitted (wave size, or less when stock limited it)."""

    first: int
    last: int
    admitted_at_ms: int
    capacity: int

    @classmethod
    def parse(cls, member: str) -> Wave:
        first, last, at, capacity = member.split(":")
        return cls(int(first), int(last), int(at), int(capacity))


@dataclass(frozen=True)
class Stock:
    """RES's stock hash summed over tiers. ``known`` is False while the hash does not exist."""

    known: bool = False
    available: int = 0
    held: int = 0

    @property
    def sold_out(self) -> bool:
        """Nothing to sell and nothing that could come back: no stock and no live holds."""
        return self.known and self.available <= 0 and self.held <= 0

    @classmethod
    def parse(cls, raw: dict[str, str] | None) -> Stock:
        if not raw:
            return cls()
        available = held = 0
        for name, value in raw.items():
            try:
                count = int(value)
            except (TypeError, ValueError):
                continue  # a field this module does not know about
            if name.startswith("held:"):
                held += max(0, count)
            elif ":" not in name:
                available += max(0, count)
        return cls(True, available, held)


#: Bucket hashes written per round trip.
BUCKETS_PER_TRIP = 512


def write_places(redis: Any, keys: Keys, event_id: str, by_bucket: dict[int, dict[str, int]], expire_at_ms: int,
                 keep_alive: Callable[[], None] = lambda: None) -> None:
    """Write places, grouped {bucket: {token field: position}}: one multi-field HSET (and the
    keys' expiry) per bucket, BUCKETS_PER_TRIP buckets per round trip (sync)."""
    buckets = sorted(by_bucket)
    for start in range(0, len(buckets), BUCKETS_PER_TRIP):
        pipe = redis.pipeline(transaction=False)
        for b in buckets[start:start + BUCKETS_PER_TRIP]:
            pipe.hset(keys.room_bucket(event_id, b), mapping=by_bucket[b])
            pipe.pexpireat(keys.room_bucket(event_id, b), expire_at_ms)
        pipe.execute()
        keep_alive()


def bucket_key(keys: Keys, event_id: str, token: Token) -> str:
    return keys.room_bucket(event_id, token.bucket)


def join_script(client: Any) -> Any:
    return scripts(client).get("room_join")


class JoinCall:
    """room_join.lua's KEYS and ARGV for the joins of one event. What every join of the event
    shares (three key names, the bucket and rate-limit key prefixes) is built once: a join then
    adds only its token's and its subjects' parts. Key names never change, so the web tier keeps
    one per event for good (RoomService)."""

    __slots__ = ("_room", "_prequeue", "_journal", "_bucket", "_rate", "_keys", "_event_id")

    def __init__(self, keys: Keys, event_id: str) -> None:
        self._keys, self._event_id = keys, event_id
        self._room, self._prequeue = keys.room(event_id), keys.room_prequeue_buckets(event_id)
        self._journal, self._bucket = keys.room_journal(event_id), keys.room_bucket_prefix(event_id)
        #: scope -> its rate-limit key prefix in this event
        self._rate: dict[str, str] = {}

    def __call__(self, token: Token, now_ms: int, on_sale_ms: int, expire_at_ms: int,
                 limits: Sequence[tuple[Policy, str]] = (), limits_at_ms: int | None = None) -> tuple[list, list]:
        """KEYS and ARGV for ``token``. With ``limits`` ((policy, subject) pairs, each counted:
        models.ratelimit.counted), the script counts the join against them first, in the event's
        keys (Keys.event_rate), at ``limits_at_ms`` (None: Redis's clock)."""
        bucket = token.bucket
        call_keys = [self._room, f"{self._bucket}{bucket}", self._prequeue, self._journal]
        args: list[Any] = [token.field, now_ms, on_sale_ms, expire_at_ms, bucket]
        if limits:
            rate = self._rate
            args.append("" if limits_at_ms is None else limits_at_ms)
            for policy, subject in limits:
                prefix = rate.get(policy.name)
                if prefix is None:
                    prefix = rate[policy.name] = self._keys.event_rate_prefix(self._event_id, policy.name)
                call_keys.append(prefix + subject)
                args += policy.gcra
        return call_keys, args


def join_call(keys: Keys, event_id: str, token: Token, now_ms: int, on_sale_ms: int, expire_at_ms: int,
              limits: Sequence[tuple[Policy, str]] = (), limits_at_ms: int | None = None) -> tuple[list, list]:
    """KEYS and ARGV of room_join.lua for this token (one call of a new :class:`JoinCall`)."""
    return JoinCall(keys, event_id)(token, now_ms, on_sale_ms, expire_at_ms, limits, limits_at_ms)


def close_prequeue(redis: Any, keys: Keys, event_id: str, now_ms: int) -> tuple[int, bool]:
    """Close the pre-queue (sync, idempotent). Returns (its final size, already drawn)."""
    pre, opened = scripts(redis).get("room_close")(keys=[keys.room(event_id)], args=[now_ms])
    return int(pre), bool(int(opened))


def read_counters(redis: Any, keys: Keys, event_id: str) -> RoomCounters:
    """The room hash (sync)."""
    return RoomCounters.parse(redis.hgetall(keys.room(event_id)))


def read_stock(redis: Any, keys: Keys, event_id: str) -> Stock:
    """RES's stock hash, summed (sync)."""
    return Stock.parse(redis.hgetall(keys.stock(event_id)))


def recent_waves(redis: Any, keys: Keys, event_id: str, count: int) -> list[Wave]:
    """The last ``count`` waves, oldest first (sync)."""
    members = redis.zrange(keys.room_waves(event_id), -count, -1)
    return [Wave.parse(m) for m in members]


def expire_at_ms(starts_at_ms: int, on_sale_ms: int, now_ms: int, token_ttl_s: int) -> int:
    """When an event's room keys expire: TOKEN_TTL_S after the later of its start and now."""
    return max(starts_at_ms, on_sale_ms, now_ms) + token_ttl_s * 1000
