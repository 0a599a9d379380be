"""The pre-queue draw and the proof that it was fair.

When an event's pre-queue opens we pick a random salt and publish only ``sha256(salt)`` (the
commitment). Everyone who joins before on-sale waits in the pre-queue, where arrival time does
not matter. At on-sale the pre-queue closes and is ordered by ``HMAC-SHA256(salt, token)``:
deterministic, yet unpredictable until the salt is revealed. We then reveal the salt and the
ordered HMACs (never the tokens): any fan can check ``sha256(salt)`` against the commitment,
recompute their own HMAC and find their place in the list.

The salt lives in the fairness_records table, so a Redis flush cannot change it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from models.keys import Keys
from models.tables import FairnessRecord, QueueEntry
from models.waiting_room import journal, store, tokens
from models.waiting_room.lease import Lease

log = logging.getLogger("ticketdrop.waiting_room")

ALGORITHM = (
    "HMAC-SHA256(key=bytes.fromhex(salt), msg=token as ASCII); pre-queue ordered by ascending HMAC; "
    "position = index + 1; commitment = SHA-256(bytes.fromhex(salt))"
)
#: Size of one stored HMAC, in bytes.
HMAC_BYTES = 32
#: Tokens hashed between two lease extensions.
_DRAW_CHUNK = 100_000
#: HMACs appended per round trip (32 bytes each: 1 MB).
_HMAC_CHUNK = 32_768


def commitment_of(salt_hex: str) -> str:
    """The published commitment of a salt: hex SHA-256 of its bytes."""
    return hashlib.sha256(bytes.fromhex(salt_hex)).hexdigest()


def fairness_hmac(salt: bytes, token: str) -> bytes:
    """The value a token is ordered by in the pre-queue draw."""
    return hmac.digest(salt, token.encode("ascii"), "sha256")


def ensure_commitment(event_id: str) -> FairnessRecord:
    """The event's fairness record, creating salt and commitment on first use (blocking;
    safe when several processes race: the first insert wins)."""
    record = FairnessRecord.get_or_none(FairnessRecord.event == event_id)
    if record is not None:
        return record
    salt = secrets.token_hex(32)
    FairnessRecord.insert(event=event_id, commitment=commitment_of(salt), salt=salt).on_conflict_ignore().execute()
    return FairnessRecord.get(FairnessRecord.event == event_id)


def public_document(event_id: str) -> dict[str, Any]:
    """What GET .../waiting-room/fairness shows: the salt only once revealed (blocking)."""
    record = ensure_commitment(event_id)
    revealed = record.revealed_at is not None
    return {
        "event_id": str(event_id),
        "commitment": record.commitment,
        "salt": record.salt if revealed else None,
        "committed_at": record.committed_at,
        "revealed_at": record.revealed_at,
        "prequeue_size": record.prequeue_size if revealed else None,
        "algorithm": ALGORITHM,
    }


def _reveal(event_id: str, prequeue_size: int) -> None:
    (FairnessRecord.update(revealed_at=datetime.now(UTC), prequeue_size=prequeue_size)
     .where((FairnessRecord.event == event_id) & FairnessRecord.revealed_at.is_null()).execute())


def draw(secret: bytes, salt: bytes, event_id: str, fields: list[tuple[int, str]],
         keep_alive: Callable[[], None] = lambda: None) -> list[tuple[bytes, int, str]]:
    """The pre-queue in draw order: (hmac, bucket, field) sorted by HMAC(salt, token)."""
    ordered = []
    for start in range(0, len(fields), _DRAW_CHUNK):
        ordered += [(fairness_hmac(salt, tokens.text_of_field(secret, event_id, f)), b, f)
                    for b, f in fields[start:start + _DRAW_CHUNK]]
        keep_alive()  # millions of fans take longer than one lease
    ordered.sort()
    return ordered


def _prequeue_fields(redis: Any, keys: Keys, event_id: str, size: int, keep_alive: Callable[[], None]) -> list[tuple[int, str]]:
    """Every (bucket, field) whose value is 0..size: the pre-queue, drawn or not (a re-run after a
    crash half way sees some positions already written and draws the same order again)."""
    buckets = sorted(int(b) for b in redis.smembers(keys.room_prequeue_buckets(event_id)))
    found: list[tuple[int, str]] = []
    for start in range(0, len(buckets), store.BUCKETS_PER_TRIP):
        chunk = buckets[start:start + store.BUCKETS_PER_TRIP]
        pipe = redis.pipeline(transaction=False)
        for b in chunk:
            pipe.hgetall(keys.room_bucket(event_id, b))
        for b, mapping in zip(chunk, pipe.execute(), strict=True):
            found.extend((b, f) for f, v in mapping.items() if int(v) <= size)
        keep_alive()
    return found


def store_hmacs(redis: Any, keys: Keys, event_id: str, ordered: list[tuple[bytes, int, str]], expire_at_ms: int) -> None:
    """Write the drawn order's HMAC list, the one GET .../fairness/hmacs pages through (sync)."""
    hmacs_key = keys.room_hmacs(event_id)
    redis.set(hmacs_key, b"", pxat=expire_at_ms)
    for start in range(0, len(ordered), _HMAC_CHUNK):
        redis.append(hmacs_key, b"".join(h for h, _, _ in ordered[start:start + _HMAC_CHUNK]))


def drawn_places(ordered: list[tuple[bytes, int, str]]) -> dict[int, dict[str, int]]:
    """Position index+1 of every drawn fan, grouped by bucket (for store.write_places)."""
    by_bucket: dict[int, dict[str, int]] = {}
    for position, (_, b, f) in enumerate(ordered, start=1):
        by_bucket.setdefault(b, {})[f] = position
    return by_bucket


def open_prequeue(redis: Any, keys: Keys, secret: bytes, event_id: str, now_ms: int, expire_at_ms: int,
                  lease: Lease | None = None) -> int:
    """Close the pre-queue, draw its order, write positions 1..P, store the HMAC list, reveal the
    salt (sync; idempotent: a re-run draws the same order). Call it under the room lease and pass
    it (it is extended during a long draw). Returns P, the pre-queue size."""
    keep_alive = lease.extend if lease is not None else (lambda: None)
    size, opened = store.close_prequeue(redis, keys, event_id, now_ms)
    if opened:
        return size
    # Every pre-queue join must be in the database before the draw, so a restore after a Redis
    # loss draws the very same set (and therefore the same order).
    journal.flush_journal(redis, keys, event_id, lease)
    fields = _prequeue_fields(redis, keys, event_id, size, keep_alive)
    if len(fields) != size:
        log.error("pre-queue count differs from its members", extra={"event_id": event_id, "counted": size, "found": len(fields)})
    # The table now holds every pre-queue fan Redis holds: more rows means Redis lost some (it
    # went back to an earlier state, or buckets expired; docs/internals/waiting-room.md, "Redis
    # back, but behind"). The draw must draw the set a restore would: the room is restored first.
    if QueueEntry.select().where((QueueEntry.event == event_id) & (QueueEntry.position == 0)).count() > len(fields):
        journal.take_offline(redis, keys, event_id, "pre-queue joins", lease)
        raise journal.RoomTakenOffline(event_id)
    salt = bytes.fromhex(ensure_commitment(event_id).salt)
    ordered = draw(secret, salt, event_id, fields, keep_alive)
    store_hmacs(redis, keys, event_id, ordered, expire_at_ms)
    store.write_places(redis, keys, event_id, drawn_places(ordered), expire_at_ms, keep_alive)
    _reveal(event_id, len(ordered))
    journal.raise_durable(redis, keys, event_id, len(ordered))
    redis.hset(keys.room(event_id), "opened", now_ms)
    log.info("pre-queue drawn", extra={"event_id": event_id, "prequeue_size": len(ordered)})
    return size
