"""Opening a checkout session for a held reservation: one session per reservation, whatever
keys, retries and double clicks arrive (the unique reservation_id decides)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from models import sql
from models.catalog.statuses import FINISHED_STATUSES
from models.checkout import documents, idempotency
from models.checkout.idempotency import Replay
from models.db import is_postgres
from models.errors import Conflict, EventNotOnSale, Gone, InFlight, NotFound
from models.keys import Keys
from models.tables import CheckoutSession, Reservation, utcnow

log = logging.getLogger("ticketdrop.checkout")

#: The Idempotency-Key scope of opening a session.
SESSIONS_SCOPE = "POST /checkout/sessions"
#: Retry-After for a reservation that is still being decided, in seconds.
PENDING_RETRY_AFTER_S = 1


@dataclass(frozen=True)
class Opened:
    document: dict[str, Any]
    #: False when the reservation already had this session (another key, a retry).
    created: bool
    #: The document as JSON text, exactly as stored for replays of this Idempotency-Key.
    body: str = ""


def check_payable(reservation: Reservation, now: datetime) -> None:
    """Raise unless the hold can still be paid: Gone (410) once expired, Conflict (409) when
    rejected, released or already converted."""
    if reservation.status == "expired" or (reservation.status == "held" and reservation.expires_at <= now):
        raise Gone("The hold on these tickets expired; reserve again while stock remains", reason="hold_expired")
    if reservation.status != "held":
        raise Conflict(f"The reservation is {reservation.status}; reserve again while stock remains",
                       reason=f"reservation_{reservation.status}", reservation_status=reservation.status)


class _KeyRecorded(Exception):
    """The Idempotency-Key was recorded by an earlier request: roll this one back."""


def open_session(*, user_id: str, reservation_id: str | uuid.UUID, idempotency_key: str, ttl_s: int = 86_400,
                 now: datetime | None = None) -> Opened | Replay:
    """The reservation's checkout session, created if needed, with the Idempotency-Key record
    written in the same transaction (one short transaction; nothing written is read back).

    Raises NotFound (404) if the reservation is not in the database (or not the user's: see
    :func:`raise_if_pending` for one still being decided), Gone (410) if the hold expired,
    Conflict (409) if it was rejected or released; IdempotencyMismatch / InFlight for a key
    used otherwise. Returns the session (Opened) or an earlier request's stored response (Replay)."""
    now = now or utcnow()
    scope = SESSIONS_SCOPE
    # The fingerprint of the request body ``{"reservation_id": ...}``, as the HTTP layer sees it.
    request_hash = idempotency.fingerprint("POST", "/checkout/sessions", {"reservation_id": str(reservation_id)})
    for _ in range(2):
        try:
            with sql.write_transaction():
                return _open_and_record(user_id, reservation_id, idempotency_key, request_hash, scope, ttl_s, now)
        except _KeyRecorded:
            pass
        except (NotFound, Gone, Conflict):
            # A retry of a request that succeeded before answers as it did then.
            replay = idempotency.earlier(user_id=user_id, scope=scope, key=idempotency_key, request_hash=request_hash,
                                         now=now)
            if replay is not None:
                return replay
            raise
        replay = idempotency.earlier(user_id=user_id, scope=scope, key=idempotency_key, request_hash=request_hash, now=now)
        if replay is not None:
            return replay
    raise InFlight("A request with this Idempotency-Key is still in progress; retry shortly",
                   retry_after=idempotency.IN_FLIGHT_RETRY_AFTER_S)


#: The hold's price per ticket was fixed when it was granted (older rows: the tier's price).
_RESERVATION_SQL = (
    "SELECT r.user_id, r.status, r.expires_at, r.event_id, r.tier_id, r.quantity, "
    "COALESCE(r.price_cents, t.price_cents), e.status FROM reservations r JOIN ticket_tiers t ON t.id = r.tier_id "
    "JOIN events e ON e.id = r.event_id WHERE r.id = ?")
_INSERT_SQL = (
    "INSERT INTO checkout_sessions (id, reservation_id, user_id, idempotency_key, amount_cents, status, created_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, 'open', ?, ?) ON CONFLICT (reservation_id) DO NOTHING RETURNING id")


#: PostgreSQL: the session and, when it was inserted, its Idempotency-Key record; answers
#: (sessions inserted, records inserted). A record already there (an earlier request with this
#: key) answers (1, 0): the caller rolls the session back and replays that request.
_INSERT_WITH_RECORD_SQL = (
    "WITH s AS (" + _INSERT_SQL + "), k AS (INSERT INTO idempotency_keys ({columns}) SELECT {values} FROM s "
    "ON CONFLICT (user_id, scope, key) DO NOTHING RETURNING id) SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM k)")


def _open_and_record(user_id: str, reservation_id: Any, key: str, request_hash: str, scope: str, ttl_s: int,
                     now: datetime) -> Opened:
    found = sql.rows(_RESERVATION_SQL, [sql.uid(reservation_id)])
    if not found or found[0][0] != user_id:
        raise NotFound(f"No reservation {reservation_id} for this user", field="reservation_id")
    _, status, expires_raw, event_id, tier_id, quantity, price_cents, event_status = found[0]
    if event_status in FINISHED_STATUSES:
        raise EventNotOnSale(f"The event is {event_status}: its sale has ended", reason="event_not_on_sale",
                             event_status=event_status)
    expires_at = sql.value(Reservation.expires_at, expires_raw)
    document = None
    if status == "held" and expires_at is not None and expires_at > now:
        session_id, amount = uuid.uuid4(), price_cents * quantity
        stamp = Reservation.created_at.db_value(now)
        new = documents.document(
            session_id=session_id, reservation_id=sql.text_id(reservation_id), status="open", amount_cents=amount,
            event_id=sql.text_id(event_id), tier_id=sql.text_id(tier_id), quantity=quantity, expires_at=expires_at,
            simulate=None, failure_reason=None, order_id=None, tickets=[], created_at=now, updated_at=now)
        row = [session_id.hex, sql.uid(reservation_id), user_id, key, amount, stamp, stamp]
        if key and is_postgres():
            # The session and its key record in one statement (PostgreSQL runs INSERTs in a WITH).
            body = orjson.dumps(new).decode()
            columns, record = idempotency.record_values(user_id=user_id, scope=scope, key=key, request_hash=request_hash,
                                                        status=201, body=body, ttl_s=ttl_s, now=now)
            ((inserted, recorded),) = sql.rows(_INSERT_WITH_RECORD_SQL.format(columns=columns, values=sql.params(len(record))),
                                               row + record)
            if inserted and not recorded:
                raise _KeyRecorded
            if inserted:
                _opened(new, user_id)
                return Opened(new, True, body)
        elif sql.rows(_INSERT_SQL, row):
            document = new
            _opened(document, user_id)
    created = document is not None
    if document is None:  # another key (or a concurrent request) opened it, or the hold ended
        existing = CheckoutSession.select(CheckoutSession, Reservation).join(Reservation).where(
            CheckoutSession.reservation == reservation_id).first()
        if existing is None or existing.status not in ("processing", "paid"):
            check_payable(existing.reservation if existing else Reservation.get_by_id(reservation_id), now)
        if existing is None:  # payable, yet no session and none inserted: cannot happen under the unique index
            raise Conflict("The checkout session is being opened; retry", reason="session_pending", retry_after=1)
        document = documents.session_document(existing)
    body = orjson.dumps(document).decode()
    http_status = 201 if created else 200
    if key and not idempotency.record_in_transaction(user_id=user_id, scope=scope, key=key, request_hash=request_hash,
                                                     status=http_status, body=body, ttl_s=ttl_s, now=now):
        raise _KeyRecorded
    return Opened(document, created, body)


def _opened(document: dict[str, Any], user_id: str) -> None:
    log.info("checkout session opened", extra={"event_id": document["event_id"], "user_id": user_id,
                                               "session_id": document["id"], "amount_cents": document["amount_cents"]})


async def raise_if_pending(redis: Any, keys: Keys, reservation_id: str | uuid.UUID, user_id: str) -> None:
    """For a reservation not (yet) in the database: raise Conflict (409, Retry-After) while the
    user's request is still pending, Gone/Conflict if Redis knows it ended. Returns if unknown."""
    record = await redis.hgetall(keys.reservation(str(reservation_id)))
    if not record or record.get("user_id") != user_id:
        return
    status = record.get("status")
    if status == "expired":
        raise Gone("The hold on these tickets expired; reserve again while stock remains", reason="hold_expired")
    if status in ("rejected", "released"):
        raise Conflict(f"The reservation is {status}", reason=f"reservation_{status}", reservation_status=status)
    # pending, or decided a moment ago and not yet readable here
    raise Conflict("The reservation is still being decided; retry shortly", reason="reservation_pending",
                   reservation_status="pending", retry_after=PENDING_RETRY_AFTER_S)
