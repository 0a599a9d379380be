"""Copy each join from Redis to the queue_entries table, so the queue survives a Redis loss.

room_join.lua appends "field:position" to the event's journal list in the same atomic step
that gives the place. The wave tick copies the journal to the database under the room lease
(LRANGE, insert, raise the room's ``dur`` mark to the highest place copied, then trim in
room_journal_trim.lua, which checks the lease and the list head: a step killed half way copies
the same entries again, which the primary key ignores). Waves admit only places up to ``dur``,
so every admitted fan's place is in the database.

Joins newer than the last copy (at most one tick, about a second) can be lost with Redis: their
fans' tokens are then unknown and they join again (docs/ARCHITECTURE.md, "Known limit").
"""

from __future__ import annotations

import logging
from typing import Any

from peewee import chunked

from models.db import database
from models.keys import Keys
from models.redis import scripts
from models.tables import QueueEntry
from models.waiting_room.lease import Lease, LeaseLost

log = logging.getLogger("ticketdrop.waiting_room")

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


def flush_journal(redis: Any, keys: Keys, event_id: str, lease: Lease | None = None) -> int:
    """Copy the event's journal to queue_entries (sync). Call it under the room lease and pass
    it: each chunk's trim is checked against the lease (a backlog of millions outlasts one
    lease, and two copiers trimming the same list would drop entries nobody copied), and the
    lease is extended after each chunk. Raises LeaseLost if the lease went to another process.
    Returns how many joins were copied."""
    key = keys.room_journal(event_id)
    trim = scripts(redis).get("room_journal_trim")
    copied = 0
    while True:
        entries = redis.lrange(key, 0, JOURNAL_CHUNK - 1)
        if not entries:
            break
        rows, highest = [], 0
        for entry in entries:
            field, position = parse_entry(entry)
            rows.append({"event": event_id, "field": field, "position": position})
            highest = max(highest, position)
        with database.atomic():
            for batch in chunked(rows, _ROWS_PER_INSERT):
                QueueEntry.insert_many(batch).on_conflict_ignore().execute()
        if highest:
            raise_durable(redis, keys, event_id, highest)  # before the trim: a crash re-copies, never skips
        trimmed = int(trim(keys=[key, lease.key if lease else keys.room_lease(event_id)],
                           args=[lease.nonce if lease else "", len(entries), entries[0]]))
        if trimmed < 0:
            raise LeaseLost(keys.room_lease(event_id))
        if trimmed == 0:
            log.warning("journal trimmed by another copier", extra={"event_id": event_id})
            break
        copied += len(entries)
        if len(entries) < JOURNAL_CHUNK:
            break
        if lease is not None:
            lease.extend()
    return copied
