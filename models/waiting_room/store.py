"""The waiting room's Redis layout, in one place (the Lua scripts are models/lua/room_*.lua).

Per event (every key shares the hash tag ``{event_id}``, so scripts touch one cluster slot):

- ``room`` hash: ``live`` (present once the room is open: created fresh, or restored from the
  database after a Redis data loss; joins and admission checks refuse to run without it),
  ``pre`` (pre-queue joins), ``seq`` (joins after on-sale), ``pclosed`` (ms the
  pre-queue closed; its size is final from then), ``opened`` (ms the draw wrote pre-queue
  positions), ``up_to`` (last admitted position), ``next_due`` (ms the next wave is due),
  ``used`` / ``expired`` (admissions that reserved / lapsed unused), ``exp_pos`` (expiry cursor),
  ``dbw`` (waves copied to the admission_waves table), ``dur`` (positions 1..dur are in the
  queue_entries table: only those may be admitted, so every admitted place survives Redis),
  ``bexp`` (ms: the tick moves every bucket's expiry when the room's expire-at passes it,
  waves.keep_expiry), ``bagain`` (ms: when that push is made once more).
- ``BUCKETS`` small ``bucket`` hashes: token field -> position (0 = pre-queue, not drawn yet).
  A few dozen entries each, so Redis keeps them listpack-encoded: about 30 bytes per fan.
- ``waves`` sorted set: score = last position, member ``first:last:admitted_at_ms:capacity``.
- ``pb`` set: numbers of the buckets holding pre-queue fans, so the draw reads only those.
- ``journal`` list: "field:position" of each join not yet copied to queue_entries.
- ``used`` bitmap (bit per position), ``hmacs`` string (the drawn pre-queue HMACs, 32 raw bytes
  each, in queue order), ``lease`` (the scheduler step's lease).
- Beside the room, in its slot: the join's rate limits, ``rl:{e}:<scope>:<subject>`` (GCRA state,
  counted by room_join.lua before it joins: ``JoinCall``).

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
from models.waiting_room.wire import bulk


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

    __slots__ = ("_room", "_prequeue", "_journal", "_bucket", "_rate", "_keys", "_event_id", "_frames", "_times")

    def __init__(self, keys: Keys, event_id: str) -> None:
        self._keys, self._event_id = keys, event_id
        self._room, self._prequeue = keys.room(event_id), keys.room_prequeue_buckets(event_id)
        self._journal, self._bucket = keys.room_journal(event_id), keys.room_bucket_prefix(event_id)
        #: scope -> its rate-limit key prefix in this event
        self._rate: dict[str, str] = {}
        #: (sha, id of each policy) -> :meth:`packed`'s frame for them (it keeps the policies alive)
        self._frames: dict[Any, tuple[bytes, int, list[int], list[Policy]]] = {}
        #: (on-sale ms, expiry ms, both packed): the same for every join of the event, nearly always
        self._times: tuple[int, int, bytes] = (-1, -1, b"")

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

    def packed(self, sha: str, token: Token, now_ms: int, on_sale_ms: int, expire_at_ms: int,
               limits: Sequence[tuple[Policy, str]] = (), limits_at_ms: int | None = None) -> bytes:
        """The EVALSHA of script ``sha`` with :meth:`__call__`'s KEYS and ARGV, packed as RESP:
        the bytes hiredis.pack_command makes of it, for a wire that takes packed commands. Every
        argument the event's joins share (script, key names, the limits' quotas) is packed once
        per set of policies, in a frame; a join formats only its own into it (0.75 µs less
        per join than building the lists for hiredis to pack). Raises UnicodeEncodeError for a
        subject that is no UTF-8, as hiredis does."""
        bucket, field = b"%d" % token.bucket, token.field.encode()
        key: list[Any] = [sha]
        values: list[Any] = [0, bucket]
        for policy, subject in limits:
            key.append(id(policy))
            raw = subject.encode()
            values += (len(raw), raw)
        frame = self._frames.get(tuple(key) if limits else sha)
        if frame is None:
            if len(self._frames) >= 16:  # only callers that make new Policy objects per join get here
                self._frames.clear()
            frame = self._frames[tuple(key) if limits else sha] = self._frame(sha, [p for p, _ in limits])
        template, bucket_len, rate_lens, _ = frame
        values[0] = bucket_len + len(bucket)
        for i, prefix_len in enumerate(rate_lens, 1):
            values[2 * i] += prefix_len  # a rate-limit key's length: its prefix's and its subject's
        times = self._times
        if times[0] != on_sale_ms or times[1] != expire_at_ms:
            times = self._times = (on_sale_ms, expire_at_ms, bulk(b"%d" % on_sale_ms) + bulk(b"%d" % expire_at_ms))
        now = b"%d" % now_ms
        values += (len(field), field, len(now), now, times[2], len(bucket), bucket)
        if limits:
            at = b"" if limits_at_ms is None else b"%d" % limits_at_ms
            values += (len(at), at)
        return template % tuple(values)

    def _frame(self, sha: str, policies: list[Policy]) -> tuple[bytes, int, list[int], list[Policy]]:
        """:meth:`packed`'s template (``%`` holes for a join's own arguments), the lengths of the
        key prefixes its holes complete, and the policies (kept alive: their ids key the frame)."""

        def fixed(*values: Any) -> bytes:
            return b"".join(bulk(str(v).encode()) for v in values).replace(b"%", b"%%")

        def completes(prefix: bytes) -> bytes:  # a key: a fixed prefix, then the join's own part
            return b"$%d\r\n" + prefix.replace(b"%", b"%%") + b"%b\r\n"

        count = len(policies)
        bucket = self._bucket.encode()
        rates = [self._keys.event_rate_prefix(self._event_id, p.name).encode() for p in policies]
        template = (b"*%d\r\n" % (13 + 3 * count if count else 12) + fixed("EVALSHA", sha, 4 + count, self._room)
                    + completes(bucket) + fixed(self._prequeue, self._journal) + b"".join(map(completes, rates))
                    + b"$%d\r\n%b\r\n" * 2 + b"%b" + b"$%d\r\n%b\r\n" * (2 if count else 1)
                    + fixed(*[v for p in policies for v in p.gcra]))
        return template, len(bucket), [len(r) for r in rates], policies


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
