"""Copy each join from Redis to the queue_entries table, so the queue survives a Redis loss.

room_join.lua appends "field:position" to the event's journal list in the same atomic step
that gives the place. The wave tick copies the journal to the database under the room lease
(LRANGE, insert, raise the room's ``dur`` mark to the highest place copied, then trim in
room_journal_trim.lua, which checks the lease and the list head: a step killed half way copies
the same entries again, which the primary key ignores). Waves admit only places up to ``dur``,
so every admitted fan's place is in the database.

Joins newer than the last copy (at most one tick, about a second) can be lost with Redis: their
fans' tokens are then unknown and they join again (docs/ARCHITECTURE.md, "Known limit").

A copy also notices a Redis that came back behind while it ran (restore.behind_the_database
checks before it): a journal entry whose position the table already holds under another field
is a place given twice, which only a Redis that lost the first can do; so is a journal whose
copied entries changed between the read and the trim (room_journal_trim.lua). It then takes the
room offline, copies the rest of the journal (joins are refused from then on) and raises
RoomTakenOffline; the next ensure_live restores the room.
"""

from __future__ import annotations

import logging
from typing import Any

from peewee import chunked

from models import metrics
from models.db import database
from models.keys import Keys
from models.redis import scripts
from models.tables import QueueEntry
from models.waiting_room.lease import Lease, LeaseLost

log = logging.getLogger("ticketdrop.waiting_room")


class RoomTakenOffline(Exception):
    """Redis went back to an earlier state under a copy (it gave places the database holds to
    other fans, or its journal changed under the copy, or it lost pre-queue fans before the
    draw): the room is offline and its journal copied; the next ensure_live restores it."""


#: Journal entries read per round trip and copied per transaction.
JOURNAL_CHUNK = 10_000
#: Rows per INSERT statement (3 parameters each: stays under SQLite's variable limit).
_ROWS_PER_INSERT = 1_000


def parse_entry(entry: str) -> tuple[str, int]:
    """("field", position) of a journal entry (fields are base64url: they hold no ':')."""
    field, _, position = entry.rpartition(":")
    return field, int(position)


def raise_durable(redis: Any, keys: Keys, event_id: str, position: int) -> None:
    """Let waves admit up to ``position`` (only the lease holder writes ``dur``)."""
    room = keys.room(event_id)
    if position > int(redis.hget(room, "dur") or 0):
        redis.hset(room, "dur", position)


def take_offline(redis: Any, keys: Keys, event_id: str, lost: str, lease: Lease | None = None) -> None:
    """Stop joins and admission checks on a room Redis lost places of, though it kept the room
    (they answer 503 with Retry-After until ensure_live restores it). Under the room lease: a
    step that lost it must not touch a room another step may be restoring."""
    if lease is not None:
        lease.extend()  # raises LeaseLost
    if not redis.hdel(keys.room(event_id), "live"):
        return  # offline already (this step found it a moment ago, or a loss took the room)
    metrics.ROOM_ROLLBACKS.inc()
    log.error("Redis lost places the database holds: the waiting room is rebuilt from the database",
              extra={"event_id": event_id, "lost": lost})


def _given_again(event_id: str, rows: list[dict]) -> bool:
    """True if the table holds one of ``rows``' places under another field. Positions grow, so
    in a healthy room the range read is above every stored place and finds nothing (an index
    range scan); a copy done again after a crash finds its own rows."""
    mine = {(r["field"], r["position"]) for r in rows if r["position"] > 0}
    if not mine:
        return False
    low, high = min(p for _, p in mine), max(p for _, p in mine)
    held = (QueueEntry.select(QueueEntry.field, QueueEntry.position)
            .where((QueueEntry.event == event_id) & QueueEntry.position.between(low, high)).tuples())
    positions = {p for _, p in mine}
    return any(p in positions and (f, p) not in mine for f, p in held)


def flush_journal(redis: Any, keys: Keys, event_id: str, lease: Lease | None = None) -> int:
    """Copy the event's journal to queue_entries (sync). Call it under the room lease and pass
    it: each chunk's trim is checked against the lease (a backlog of millions outlasts one
    lease, and two copiers trimming the same list would drop entries nobody copied), and the
    lease is extended after each chunk. Raises LeaseLost if the lease went to another process,
    and RoomTakenOffline, once the whole journal is copied, if it found Redis behind.
    Returns how many joins were copied."""
    key = keys.room_journal(event_id)
    trim = scripts(redis).get("room_journal_trim")
    copied, offline = 0, False
    while True:
        entries = redis.lrange(key, 0, JOURNAL_CHUNK - 1)
        if not entries:
            break
        rows, highest = [], 0
        for entry in entries:
            field, position = parse_entry(entry)
            rows.append({"event": event_id, "field": field, "position": position})
            highest = max(highest, position)
        if not offline and _given_again(event_id, rows):
            take_offline(redis, keys, event_id, "places given again", lease)
            offline = True  # copied all the same: those fans were shown these places too
        with database.atomic():
            for batch in chunked(rows, _ROWS_PER_INSERT):
                QueueEntry.insert_many(batch).on_conflict_ignore().execute()
        if highest:
            raise_durable(redis, keys, event_id, highest)  # before the trim: a crash re-copies, never skips
        trimmed = int(trim(keys=[key, lease.key if lease else keys.room_lease(event_id)],
                           args=[lease.nonce if lease else "", len(entries), entries[0], entries[-1]]))
        if trimmed == -1:
            raise LeaseLost(keys.room_lease(event_id))
        if trimmed == -2:  # the journal went back under us: copy what it holds now, offline
            take_offline(redis, keys, event_id, "journal rewritten", lease)
            offline = True
            continue
        if trimmed == 0:
            log.warning("journal trimmed by another copier", extra={"event_id": event_id})
            break
        copied += len(entries)
        if len(entries) < JOURNAL_CHUNK and not offline:
            break
        if lease is not None:
            lease.extend()
    if offline:
        raise RoomTakenOffline(event_id)
    return copied
