"""The wave tick: keep each room live (restored after a Redis loss) and its joins copied to the
database; at on-sale draw the pre-queue, then admit the next wave of positions whenever an
event's wave is due, never beyond what can still be sold or what the database holds.

Each event's step runs under its own Redis lease, and the admission itself is a compare-and-set
on ``up_to`` in Lua, so a tick that runs twice, or on two schedulers at once, admits each
position once. A step costs O(wave size + new joins) however many fans wait (the one-off draw
at on-sale, and a restore, are O(queue)).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from models import metrics
from models.catalog.snapshot import EventSnapshot
from models.errors import Unavailable
from models.inventory import rebuild_counters
from models.keys import Keys
from models.redis import scripts
from models.settings import Settings
from models.tables import AdmissionWave
from models.waiting_room import fairness, journal, restore, store, tokens
from models.waiting_room.admission import expire_event
from models.waiting_room.lease import Lease, LeaseLost, leased
from models.waiting_room.sales import events_without_commitment, selling_events, upcoming_events
from models.waiting_room.store import RoomCounters, Stock

log = logging.getLogger("ticketdrop.waiting_room")

#: How far past the room's expire-at the tick pushes every bucket's when it moves them all
#: (keep_expiry): at most every half of it, and only while the expire-at moves.
BUCKET_EXPIRY_AHEAD_MS = 3_600_000
#: A push of every bucket's expiry is made once more this long after: longer than a web
#: process keeps an event's snapshot (web/eventcache.py, 1 s) and a join takes.
BUCKET_PUSH_AGAIN_MS = 10_000
#: A room live for longer than this without a ``bexp`` mark predates the mark: its buckets are
#: pushed at once (a room's first tick comes within a second or two of its opening).
FIRST_MARK_GRACE_MS = 60_000

#: The scheduler ticks at least this often, in seconds, so per-event wave intervals shorter
#: than WAVE_INTERVAL_S are honoured and the draw starts within a second of on-sale.
MAX_TICK_S = 1.0


def tick_interval_s(settings: Settings) -> float:
    """How often the scheduler runs :func:`admit_waves`."""
    return min(settings.wave_interval_s, MAX_TICK_S)


def wave_capacity(wave_size: int, stock: Stock, counters: RoomCounters) -> int:
    """Positions the next wave may admit: the wave size, but no more fans than tickets left
    once every admitted fan who has not reserved yet is counted (unknown stock: wave size)."""
    if not stock.known:
        return wave_size
    return max(0, min(wave_size, stock.available - counters.live_unused))


def next_due_ms(previous_due_ms: int, interval_s: float, now_ms: int) -> int:
    """When the wave after this one is due: on the fixed grid, or one interval from now if the
    grid fell behind (after a pause or a stall), so waves never bunch up to catch up."""
    step = int(interval_s * 1000)
    if previous_due_ms and previous_due_ms + step > now_ms:
        return previous_due_ms + step
    return now_ms + step


def _stock(redis: Any, keys: Keys, event_id: str) -> Stock:
    """RES's stock hash; rebuilt from the database when missing. Unknown (admission allowed)
    if there is still none: no tiers yet, or the event's drainer is busy rebuilding it."""
    stock = store.read_stock(redis, keys, event_id)
    if stock.known:
        return stock
    try:
        rebuild_counters(redis, keys, event_id)
    except Unavailable:
        return stock
    return store.read_stock(redis, keys, event_id)


def persist_waves(redis: Any, keys: Keys, event_id: str) -> int:
    """Copy waves not yet in the admission_waves table there (idempotent). Returns how many."""
    room = keys.room(event_id)
    done = int(redis.hget(room, "dbw") or 0)
    members = redis.zrange(keys.room_waves(event_id), done, -1)
    if not members:
        return 0
    rows = [_wave_row(event_id, w.first, w.last, w.admitted_at_ms) for w in map(store.Wave.parse, members)]
    _upsert_waves(rows)
    redis.hset(room, "dbw", done + len(members))
    return len(members)


def _upsert_waves(rows: list[dict]) -> None:
    # Redis's wave is the one that happened: it replaces a row a crashed step wrote ahead of it.
    (AdmissionWave.insert_many(rows)
     .on_conflict(conflict_target=[AdmissionWave.event, AdmissionWave.first_position],
                  preserve=[AdmissionWave.last_position, AdmissionWave.admitted_at])
     .execute())


def _wave_row(event_id: str, first: int, last: int, at_ms: int) -> dict:
    return {"event": event_id, "first_position": first, "last_position": last,
            "admitted_at": datetime.fromtimestamp(at_ms / 1000, tz=UTC)}


def _admit(redis: Any, keys: Keys, event: EventSnapshot, now_ms: int, expire_at: int, lease: Lease) -> int:
    counters = store.read_counters(redis, keys, event.id)
    # Only places already copied to the database are admitted: an admitted fan's place must
    # survive a Redis loss (models/waiting_room/journal.py).
    waiting = min(counters.total, counters.durable) - counters.up_to
    if event.paused or waiting <= 0 or now_ms < counters.next_due_ms:
        return 0
    capacity = wave_capacity(event.wave_size, _stock(redis, keys, event.id), counters)
    size = min(capacity, waiting)
    if size <= 0:
        return 0
    new_up_to = counters.up_to + size
    due = next_due_ms(counters.next_due_ms, event.wave_interval_s, now_ms)
    # The database learns of the wave before any fan can: a wave Redis loses right after
    # admitting it is restored, never admitted a second time.
    row = _wave_row(event.id, counters.up_to + 1, new_up_to, now_ms)
    lease.extend()  # raises LeaseLost: a process that lost the lease must not write waves
    _upsert_waves([row])
    ok, _ = scripts(redis).get("room_admit")(
        keys=[keys.room(event.id), keys.room_waves(event.id)],
        args=[counters.up_to, new_up_to, now_ms, due, capacity, expire_at])
    if not int(ok):  # someone else moved admission meanwhile: the database follows Redis
        _take_back(redis, keys, event.id, row)
        return 0
    metrics.ADMITTED.inc(size)
    log.info("admission wave", extra={"event_id": event.id, "first_position": counters.up_to + 1,
                                      "last_position": new_up_to, "waiting": waiting - size})
    return size


def _take_back(redis: Any, keys: Keys, event_id: str, row: dict) -> None:
    """Replace the row we wrote ahead of a lost compare-and-set with the wave Redis admitted at
    that first position, or delete it if Redis has none there."""
    members = redis.zrangebyscore(keys.room_waves(event_id), row["first_position"], "+inf", start=0, num=1)
    wave = store.Wave.parse(members[0]) if members else None
    if wave is not None and wave.first == row["first_position"]:
        _upsert_waves([_wave_row(event_id, wave.first, wave.last, wave.admitted_at_ms)])
        return
    (AdmissionWave.delete().where((AdmissionWave.event == event_id)
                                  & (AdmissionWave.first_position == row["first_position"])
                                  & (AdmissionWave.last_position == row["last_position"])
                                  & (AdmissionWave.admitted_at == row["admitted_at"])).execute())


def _open_room(redis: Any, keys: Keys, settings: Settings, event: EventSnapshot, now_ms: int, lease: Any) -> int:
    """Make the room live (restoring it after a Redis loss, or when Redis came back behind the
    database), copy new joins to the database and give the room's keys the event's expire-at.
    Returns that expire-at, in ms."""
    expire_at = store.expire_at_ms(event.starts_at_ms, event.on_sale_ms, now_ms, settings.token_ttl_s)
    # Before the copy: it would add joins that took lost places again, under other fields.
    lost = restore.behind_the_database(redis, keys, event.id)
    if lost is not None:
        journal.take_offline(redis, keys, event.id, lost, lease)
    # Copy first: whether the room is new, and what a restore brings back, must count every
    # place already handed out (a partial loss can take the room hash but leave the journal).
    try:
        journal.flush_journal(redis, keys, event.id, lease)
    except journal.RoomTakenOffline:
        pass  # offline, its journal copied: restored below
    restore.ensure_live(redis, keys, settings.secret_bytes, event.id, event.wave_interval_s, now_ms, expire_at,
                        keep_alive=lease.extend)
    keep_expiry(redis, keys, event.id, expire_at, now_ms, min(BUCKET_EXPIRY_AHEAD_MS, settings.token_ttl_s * 1000))
    return expire_at


def keep_expiry(redis: Any, keys: Keys, event_id: str, expire_at: int, now_ms: int,
                ahead_ms: int = BUCKET_EXPIRY_AHEAD_MS) -> None:
    """Give the room hash, its journal and its pre-queue set the event's current expire-at (one
    round trip). Joins set these only on a key they create (room_join.lua), so the tick is what
    moves them when the event's times move, or with the clock once the event has started.

    Buckets too, but all 16,384 only when the expire-at passes the room's ``bexp`` mark: each
    join gives its own bucket the expire-at of the moment, so without this a bucket nobody
    joined into lately would expire before the room (an event postponed; a started event still
    selling TOKEN_TTL_S later) and take its fans' places with it. The buckets are pushed
    ``ahead_ms`` past the expire-at and the mark set half way, so a started event's tick
    pushes them every ``ahead_ms / 2``; each push is made once more BUCKET_PUSH_AGAIN_MS later,
    because a web process whose event snapshot is older than the change may still give a
    bucket the older expire-at meanwhile. An expire-at moved earlier than the mark allows for
    just moves the mark down (the buckets live longer than needed)."""
    room = keys.room(event_id)
    pipe = redis.pipeline(transaction=False)
    for key in (room, keys.room_journal(event_id), keys.room_prequeue_buckets(event_id)):
        pipe.pexpireat(key, expire_at)
    pipe.hmget(room, "bexp", "bagain", "live")
    mark, again_at, live = pipe.execute()[-1]
    if mark is None and (live is None or now_ms - int(live) < FIRST_MARK_GRACE_MS):
        # A room this tick or a join opened a moment ago (or just restored): its buckets got
        # this expire-at from their writers. One live for longer without a mark is older than
        # the mark itself and may hold buckets that never moved: pushed below.
        redis.hset(room, "bexp", expire_at)
        return
    if mark is not None and expire_at < int(mark) - ahead_ms:  # the event moved earlier
        redis.hset(room, "bexp", expire_at)
        redis.hdel(room, "bagain")
        return
    again = again_at is not None and now_ms >= int(again_at)
    if mark is not None and expire_at <= int(mark) and not again:
        return
    pushed = expire_at + ahead_ms
    for start in range(0, tokens.BUCKETS, store.BUCKETS_PER_TRIP):
        pipe = redis.pipeline(transaction=False)
        for bucket in range(start, min(start + store.BUCKETS_PER_TRIP, tokens.BUCKETS)):
            pipe.pexpireat(keys.room_bucket(event_id, bucket), pushed)  # a missing bucket: a no-op
        pipe.execute()
    if again:
        redis.hdel(room, "bagain")
    else:
        redis.hset(room, mapping={"bexp": expire_at + ahead_ms // 2, "bagain": now_ms + BUCKET_PUSH_AGAIN_MS})


def keep_event(redis: Any, keys: Keys, settings: Settings, event: EventSnapshot, now_ms: int) -> None:
    """The tick of an event still before on-sale, under its lease: room live, joins copied."""
    with leased(redis, keys.room_lease(event.id)) as lease:
        if lease is not None:
            _open_room(redis, keys, settings, event, now_ms, lease)


def step_event(redis: Any, keys: Keys, settings: Settings, event: EventSnapshot, now_ms: int) -> int:
    """One event's tick under its lease: room live and joins copied, draw, expiry, one wave if
    due, copy waves to the database. Returns the positions admitted (0 if another process
    holds the lease)."""
    with leased(redis, keys.room_lease(event.id)) as lease:
        if lease is None:
            return 0
        expire_at = _open_room(redis, keys, settings, event, now_ms, lease)
        fairness.open_prequeue(redis, keys, settings.secret_bytes, event.id, now_ms, expire_at, lease=lease)
        expire_event(redis, keys, event.id, now_ms, settings.admission_ttl_s)
        admitted = _admit(redis, keys, event, now_ms, expire_at, lease)
        redis.pexpireat(keys.room_used(event.id), expire_at)
        persist_waves(redis, keys, event.id)
        return admitted


def admit_waves(rt: Any, *, now_ms: int | None = None) -> int:
    """One tick over every selling event (sync; the scheduler runs it every tick_interval_s).
    Publishes missing fairness commitments first. Returns the positions admitted."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    s = rt.settings
    for event_id in events_without_commitment():
        fairness.ensure_commitment(event_id)
    for event in upcoming_events(now_ms, s.wave_size, s.wave_interval_s):
        try:
            keep_event(rt.redis, rt.keys, s, event, now_ms)
        except LeaseLost:
            log.warning("room lease lost during a step", extra={"event_id": event.id})
        except Exception:  # noqa: BLE001 - one broken event must not stop the others
            log.exception("room upkeep failed", extra={"event_id": event.id})
    admitted = 0
    for event in selling_events(now_ms, s.wave_size, s.wave_interval_s):
        try:
            admitted += step_event(rt.redis, rt.keys, s, event, now_ms)
        except LeaseLost:
            log.warning("room lease lost during a step", extra={"event_id": event.id})
        except journal.RoomTakenOffline:  # found before the draw: the next tick restores the room
            log.warning("room taken offline during a step", extra={"event_id": event.id})
        except Exception:  # noqa: BLE001 - one broken event must not stop the others' waves
            log.exception("wave step failed", extra={"event_id": event.id})
    return admitted
