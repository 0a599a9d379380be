"""Idempotency-Key records, after the IETF draft (draft-ietf-httpapi-idempotency-key-header).

A request claims its key by INSERTing a row in its own short transaction; the unique index on
(user_id, scope, key) decides between concurrent duplicates. The loser reads the winner's row:

- a different request fingerprint             -> IdempotencyMismatch (422)
- the first request is still running          -> InFlight (409, Retry-After)
- the first request finished                  -> Replay of its stored response
- the claim was abandoned (``locked_until``)  -> taken over, the request runs again
- the record is older than the TTL            -> deleted, the key starts afresh

Opening a checkout session does not claim first: it writes its record already completed, in
the transaction that creates the session (:func:`record_in_transaction`), and a conflict there
rolls the whole request back and answers from the earlier record (:func:`earlier`).

Only successful (2xx) responses are stored. An error releases the claim, so the client may
retry with the same key: our errors are either states that change by waiting (pending, busy)
or final ones that the retry reports again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from models import sql
from models.db import database
from models.errors import IdempotencyMismatch, InFlight, InvalidInput
from models.tables import IdempotencyRecord, utcnow

#: How long a claim is protected before another request may take it over, in seconds.
LOCK_S = 30
#: Retry-After given to a request whose key is in flight, in seconds.
IN_FLIGHT_RETRY_AFTER_S = 1
#: Idempotency-Key: 1..255 visible ASCII characters (an sf-string may arrive quoted).
KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
#: A claim that keeps losing races (deleted/expired under it) gives up after this many tries.
_CLAIM_ATTEMPTS = 4


@dataclass(frozen=True)
class Claim:
    """The key is ours: run the request, then :func:`complete` or :func:`release` the claim."""

    user_id: str
    scope: str
    key: str
    #: Fencing value: only the holder of this exact lock may complete or release the record.
    locked_until: datetime


@dataclass(frozen=True)
class Replay:
    """The stored response of the first request with this key."""

    status: int
    body: str


def parse_key(raw: str | None, *, required: bool) -> str | None:
    """The Idempotency-Key header value (quotes of an sf-string removed).

    Raises InvalidInput (400, field header.Idempotency-Key) if missing while ``required``, or malformed.
    Returns None when absent and optional."""
    if raw is None or raw.strip() == "":
        if required:
            raise InvalidInput("The Idempotency-Key header is required (a fresh random value per attempt)",
                               field="idempotency_key")
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not KEY_RE.match(value):
        raise InvalidInput("Idempotency-Key must be 1..255 visible ASCII characters", field="idempotency_key")
    return value


def fingerprint(method: str, path: str, body: Any) -> str:
    """sha256 hex of the method, path and canonical JSON body (sorted keys, no whitespace)."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(method.upper().encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def _row_filter(user_id: str, scope: str, key: str):
    return (IdempotencyRecord.user_id == user_id) & (IdempotencyRecord.scope == scope) & (IdempotencyRecord.key == key)


def claim(*, user_id: str, scope: str, key: str, request_hash: str, ttl_s: int, now: datetime | None = None) -> Claim | Replay:
    """Claim ``key`` for this request, or return the first request's stored response.

    Raises IdempotencyMismatch (422) if the key was used with another payload, InFlight (409 with
    Retry-After) while the first request runs. Returns a Claim (run the request) or a Replay."""
    for _ in range(_CLAIM_ATTEMPTS):
        now = now or utcnow()
        locked_until = now + timedelta(seconds=LOCK_S)
        with database.atomic():
            inserted = (
                IdempotencyRecord.insert(
                    user_id=user_id, scope=scope, key=key, request_hash=request_hash, state="in_flight",
                    locked_until=locked_until, created_at=now, expires_at=now + timedelta(seconds=ttl_s),
                )
                .on_conflict_ignore()
                .as_rowcount()
                .execute()
            )
        if inserted:
            return Claim(user_id, scope, key, locked_until)
        row = IdempotencyRecord.get_or_none(_row_filter(user_id, scope, key))
        if row is None:
            continue  # released between our INSERT and SELECT: try again
        if row.expires_at <= now:
            IdempotencyRecord.delete().where(IdempotencyRecord.id == row.id, IdempotencyRecord.expires_at <= now).execute()
            continue
        replay = _judge(row, scope, key, request_hash, now)
        if replay is not None:
            return replay
        # The first request died while holding the key: take it over (one taker wins the UPDATE).
        taken = (
            IdempotencyRecord.update(locked_until=locked_until)
            .where(IdempotencyRecord.id == row.id, IdempotencyRecord.state == "in_flight",
                   IdempotencyRecord.locked_until <= now)
            .execute()
        )
        if taken:
            return Claim(user_id, scope, key, locked_until)
    raise InFlight("A request with this Idempotency-Key is still in progress; retry shortly",
                   retry_after=IN_FLIGHT_RETRY_AFTER_S)


def record_in_transaction(*, user_id: str, scope: str, key: str, request_hash: str, status: int, body: str,
                          ttl_s: int, now: datetime) -> bool:
    """Store a completed response inside the caller's transaction. Returns False if the key is
    already recorded (the caller rolls back and answers from :func:`earlier`)."""
    return bool(sql.rows(
        "INSERT INTO idempotency_keys (user_id, scope, key, request_hash, state, response_status, response_body, "
        "created_at, expires_at) VALUES (?, ?, ?, ?, 'completed', ?, ?, ?, ?) "
        "ON CONFLICT (user_id, scope, key) DO NOTHING RETURNING id",
        [user_id, scope, key, request_hash, status, body, _ts(now), _ts(now + timedelta(seconds=ttl_s))]))


def record_values(*, user_id: str, scope: str, key: str, request_hash: str, status: int, body: str, ttl_s: int,
                  now: datetime) -> tuple[str, list[Any]]:
    """``(columns, values)`` of a completed record, for a statement that inserts it together with
    the row it answers for (models.checkout.sessions on PostgreSQL)."""
    return ("user_id, scope, key, request_hash, state, response_status, response_body, created_at, expires_at",
            [user_id, scope, key, request_hash, "completed", status, body, _ts(now), _ts(now + timedelta(seconds=ttl_s))])


def earlier(*, user_id: str, scope: str, key: str, request_hash: str, now: datetime | None = None) -> Replay | None:
    """The stored response of an earlier request with this key, or None when there is no live
    record (one past its TTL, or a claim abandoned by a dead request, is deleted here).

    Raises IdempotencyMismatch (422) if the key was used with another payload, InFlight (409 with
    Retry-After) while an earlier request still holds it."""
    now = now or utcnow()
    row = IdempotencyRecord.get_or_none(_row_filter(user_id, scope, key))
    if row is None:
        return None
    if row.expires_at <= now:
        IdempotencyRecord.delete().where(IdempotencyRecord.id == row.id, IdempotencyRecord.expires_at <= now).execute()
        return None
    replay = _judge(row, scope, key, request_hash, now)
    if replay is not None:
        return replay
    IdempotencyRecord.delete().where(IdempotencyRecord.id == row.id, IdempotencyRecord.state == "in_flight",
                                     IdempotencyRecord.locked_until <= now).execute()
    return None


def _judge(row: IdempotencyRecord, scope: str, key: str, request_hash: str, now: datetime) -> Replay | None:
    """A live record met again: its Replay when completed, None for an abandoned claim.

    Raises IdempotencyMismatch (another payload) or InFlight (its request still runs)."""
    if row.request_hash != request_hash:
        raise IdempotencyMismatch(
            f"Idempotency-Key {key!r} was already used for a different {scope} request; use a new key",
            field="idempotency_key",
        )
    if row.state == "completed":
        return Replay(row.response_status, row.response_body)
    if row.locked_until is not None and row.locked_until > now:
        raise InFlight("A request with this Idempotency-Key is still in progress; retry shortly",
                       retry_after=IN_FLIGHT_RETRY_AFTER_S)
    return None


def _ts(value: datetime) -> Any:
    return IdempotencyRecord.created_at.db_value(value)


def _held(c: Claim):
    return (
        _row_filter(c.user_id, c.scope, c.key)
        & (IdempotencyRecord.state == "in_flight")
        & (IdempotencyRecord.locked_until == c.locked_until)
    )


def complete(c: Claim, status: int, body: str) -> bool:
    """Store the response for replays. Returns False if the claim was taken over meanwhile."""
    return bool(
        IdempotencyRecord.update(state="completed", response_status=status, response_body=body, locked_until=None)
        .where(_held(c))
        .execute()
    )


def release(c: Claim) -> None:
    """Forget the claim (the request failed), so a retry with the same key runs again."""
    IdempotencyRecord.delete().where(_held(c)).execute()


def purge_expired(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Delete up to ``limit`` records past their TTL. Returns how many were deleted."""
    now = now or utcnow()
    ids = [r.id for r in IdempotencyRecord.select(IdempotencyRecord.id).where(IdempotencyRecord.expires_at <= now).limit(limit)]
    if not ids:
        return 0
    return IdempotencyRecord.delete().where(IdempotencyRecord.id.in_(ids), IdempotencyRecord.expires_at <= now).execute()
