"""Open an event's room in Redis: fresh, or restored from the database after a Redis data loss.

The room hash carries ``live`` once open. Joins and admission checks refuse to run on a room
that is not live (a join there would hand out places already taken), so after Redis loses the
room nothing moves until the wave tick has put it back, under the room lease:

- places: queue_entries holds every join the tick copied (models/waiting_room/journal.py);
  post-on-sale places are stored, the pre-queue's are drawn again from the salt in
  fairness_records (the same set and salt give the same order);
- waves and ``up_to`` from admission_waves; the ``used`` bitmap from the fans who reserved
  (reservations); the expiry count is recomputed by the next expiry step;
- counters (pre, seq, pclosed, opened, dur, dbw, next_due), ``used`` counted from the bitmap,
  and ``live`` last, in one script (models/lua/room_restore_finish.lua).

The tick copies the journal before it decides anything here, so a partial loss (the room hash
evicted, the journal kept) still counts every place handed out; buckets are dropped and
rewritten from the database.

A step killed half way starts again from scratch on the next tick (the room is still not live).

Redis can also come back *live but behind*: restarted from an AOF written every second, or
failed over to a replica that lagged. Nothing is missing then, only newer; joins go on and give
the lost places again. The tick checks, under the lease, that Redis still holds what the database
was told: before its journal copy the newest copied place at its position
(:func:`behind_the_database`), during it that no place it copies is held by another fan and
that the journal did not change under it (models/waiting_room/journal.py), and before the draw
every copied pre-queue fan
(fairness.open_prequeue). If not, it takes the room offline (journal.take_offline),
copies the joins that came meanwhile, and restores: every copied fan gets their place back, and
a place given again meanwhile is held by both fans (neither is moved back; the wave that
reaches it admits both). Before the draw, places given after on-sale while Redis counted too few
pre-queue fans are moved behind the pre-queue (:func:`behind_the_prequeue`): the pre-queue goes
first, and no one has been admitted yet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from models import metrics
from models.db import database
from models.keys import Keys
from models.redis import scripts
from models.tables import AdmissionWave, FairnessRecord, QueueEntry, Reservation
from models.waiting_room import fairness, store, tokens
from models.waiting_room.store import Wave

log = logging.getLogger("ticketdrop.waiting_room")


def behind_the_database(redis: Any, keys: Keys, event_id: str) -> str | None:
    """"copied places" if a live room lost places the database holds, else None (sync; under
    the room lease). Call it before the journal copy: the newest copied place must be in Redis
    at its position (positions are given in order, so Redis then holds every place up to it; a
    join that came after the loss may hold that position now, but under another field, which
    the copy would add to the database)."""
    if not redis.hexists(keys.room(event_id), "live"):
        return None  # ensure_live restores it anyway
    newest = (QueueEntry.select(QueueEntry.field, QueueEntry.position)
              .where((QueueEntry.event == event_id) & (QueueEntry.position > 0))
              .order_by(QueueEntry.position.desc()).limit(1).tuples().first())
    if newest is None:
        return None
    field, position = newest
    held = redis.hget(keys.room_bucket(event_id, tokens.bucket_of_field(field)), field)
    return None if held == str(position) else "copied places"


def behind_the_prequeue(event_id: str, places: dict[str, int], pre: int) -> dict[str, int]:
    """Number the places given after on-sale from ``pre`` + 1, in the order they were given,
    here and in the table (sync). For a room not drawn yet whose Redis lost pre-queue fans and
    then gave later joins places the pre-queue takes: the draw would count those fans in."""
    moved = {field: pre + i for i, field in enumerate(sorted(places, key=lambda f: (places[f], f)), start=1)}
    with database.atomic():
        for field, position in moved.items():
            if places[field] != position:
                (QueueEntry.update(position=position)
                 .where((QueueEntry.event == event_id) & (QueueEntry.field == field)).execute())
    log.warning("places given after on-sale moved behind the restored pre-queue",
                extra={"event_id": event_id, "prequeue_size": pre, "moved": len(moved)})
    return moved


def room_is_new(event_id: str) -> bool:
    """True if the database knows no place and no wave of the event (blocking): a room that is
    not live in Redis can then open empty without losing anyone's place."""
    return not (QueueEntry.select().where(QueueEntry.event == event_id).exists()
                or AdmissionWave.select().where(AdmissionWave.event == event_id).exists())


def ensure_live(redis: Any, keys: Keys, secret: bytes, event_id: str, wave_interval_s: float, now_ms: int,
                expire_at_ms: int, keep_alive: Callable[[], None] = lambda: None) -> bool:
    """Make the room live (sync; call it under the room lease). Returns True if it had to be
    restored from the database."""
    room = keys.room(event_id)
    if redis.hexists(room, "live"):
        return False
    if room_is_new(event_id):
        redis.hsetnx(room, "live", now_ms)
        redis.pexpireat(room, expire_at_ms)
        return False
    restore(redis, keys, secret, event_id, wave_interval_s, now_ms, expire_at_ms, keep_alive)
    return True


def _drop_buckets(redis: Any, keys: Keys, event_id: str) -> None:
    step = store.BUCKETS_PER_TRIP
    for start in range(0, tokens.BUCKETS, step):
        redis.unlink(*(keys.room_bucket(event_id, b) for b in range(start, min(start + step, tokens.BUCKETS))))


def _used_positions(secret: bytes, event_id: str, places: dict[str, int], up_to: int) -> list[int]:
    """Admitted positions whose fans reserved (the reservations table knows their user ids)."""
    users = Reservation.select(Reservation.user_id).where(Reservation.event == event_id).distinct().tuples()
    found = (places.get(tokens.field_of_user(secret, event_id, user)) for (user,) in users)
    return sorted(p for p in found if p and p <= up_to)


def restore(redis: Any, keys: Keys, secret: bytes, event_id: str, wave_interval_s: float, now_ms: int,
            expire_at_ms: int, keep_alive: Callable[[], None] = lambda: None) -> None:
    """Rebuild the event's room from the database (sync; under the room lease)."""
    started = time.perf_counter()
    entries = list(QueueEntry.select(QueueEntry.field, QueueEntry.position)
                   .where(QueueEntry.event == event_id).tuples())
    record = FairnessRecord.get_or_none(FairnessRecord.event == event_id)
    waves = [Wave(first, last, int(at.timestamp() * 1000), last - first + 1) for first, last, at in
             AdmissionWave.select(AdmissionWave.first_position, AdmissionWave.last_position, AdmissionWave.admitted_at)
             .where(AdmissionWave.event == event_id).order_by(AdmissionWave.first_position).tuples()]
    prequeue = [(tokens.bucket_of_field(field), field) for field, position in entries if position == 0]
    places = {field: position for field, position in entries if position > 0}
    drawn = record is not None and record.revealed_at is not None
    if not drawn and places and min(places.values()) <= len(prequeue):
        places = behind_the_prequeue(event_id, places, len(prequeue))
    room = keys.room(event_id)
    redis.delete(room, keys.room_waves(event_id), keys.room_used(event_id), keys.room_hmacs(event_id),
                 keys.room_prequeue_buckets(event_id))
    _drop_buckets(redis, keys, event_id)  # after a partial loss some may hold places the database lacks
    pre = len(prequeue)
    if drawn:
        if record.prequeue_size != pre:
            log.error("restored pre-queue differs from the drawn one",
                      extra={"event_id": event_id, "drawn": record.prequeue_size, "found": pre})
        ordered = fairness.draw(secret, bytes.fromhex(record.salt), event_id, prequeue, keep_alive)
        fairness.store_hmacs(redis, keys, event_id, ordered, expire_at_ms)
        places.update((field, i) for i, (_, _, field) in enumerate(ordered, start=1))
    elif prequeue:
        places.update((field, 0) for _, field in prequeue)
        redis.sadd(keys.room_prequeue_buckets(event_id), *{b for b, _ in prequeue})
        redis.pexpireat(keys.room_prequeue_buckets(event_id), expire_at_ms)
    by_bucket: dict[int, dict[str, int]] = {}
    for field, position in places.items():
        by_bucket.setdefault(tokens.bucket_of_field(field), {})[field] = position
    store.write_places(redis, keys, event_id, by_bucket, expire_at_ms, keep_alive)  # every place, once
    highest = max(places.values(), default=0)
    up_to = waves[-1].last if waves else 0
    if waves:
        redis.zadd(keys.room_waves(event_id),
                   {f"{w.first}:{w.last}:{w.admitted_at_ms}:{w.capacity}": w.last for w in waves})
        redis.pexpireat(keys.room_waves(event_id), expire_at_ms)
    used = _used_positions(secret, event_id, places, up_to)
    if used:
        pipe = redis.pipeline(transaction=False)
        for position in used:
            pipe.setbit(keys.room_used(event_id), position, 1)
        pipe.pexpireat(keys.room_used(event_id), expire_at_ms)
        pipe.execute()
    counters: dict[str, int] = {
        "pre": pre, "seq": max(0, highest - pre), "up_to": up_to, "dur": highest,
        "dbw": len(waves), "expired": 0, "exp_pos": 0,
        # The next wave is due one interval after the last one, as if nothing had happened.
        "next_due": waves[-1].admitted_at_ms + int(wave_interval_s * 1000) if waves else 0,
    }
    if drawn or any(p > 0 for _, p in entries):
        counters["pclosed"] = now_ms
    if drawn:
        counters["opened"] = int(record.revealed_at.timestamp() * 1000)
    # Counters, then `used` counted from the bitmap (a reservation the drainer marked used while
    # we ran is counted too), then `live`, in one step: joins resume only on the whole room.
    pairs = [str(v) for item in counters.items() for v in item]
    used_count = scripts(redis).get("room_restore_finish")(
        keys=[room, keys.room_used(event_id)], args=[now_ms, expire_at_ms, *pairs])
    metrics.ROOM_RESTORES.inc()
    log.warning("waiting room restored from the database", extra={
        "event_id": event_id, "places": len(places), "prequeue_size": pre, "admitted_up_to": up_to,
        "waves": len(waves), "used": int(used_count), "restore_ms": round((time.perf_counter() - started) * 1000, 1)})
