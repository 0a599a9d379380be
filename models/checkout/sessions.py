"""Opening a checkout session for a held reservation: one session per reservation, whatever
keys, retries and double clicks arrive (the unique reservation_id decides)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.checkout.documents import session_document
from models.errors import Conflict, Gone, NotFound
from models.keys import Keys
from models.tables import CheckoutSession, Reservation, TicketTier, utcnow

log = logging.getLogger("ticketdrop.checkout")

#: Retry-After for a reservation that is still being decided, in seconds.
PENDING_RETRY_AFTER_S = 1


@dataclass(frozen=True)
class Opened:
    document: dict[str, Any]
    #: False when the reservation already had this session (another key, a retry).
    created: bool


def check_payable(reservation: Reservation, now: datetime) -> None:
    """Raise unless the hold can still be paid: Gone (410) once expired, Conflict (409) when
    rejected, released or already converted."""
    if reservation.status == "expired" or (reservation.status == "held" and reservation.expires_at <= now):
        raise Gone("The hold on these tickets expired; reserve again while stock remains", reason="hold_expired")
    if reservation.status != "held":
        raise Conflict(f"The reservation is {reservation.status}; reserve again while stock remains",
                       reason=f"reservation_{reservation.status}", reservation_status=reservation.status)


def open_session(*, user_id: str, reservation_id: str | uuid.UUID, idempotency_key: str,
                 now: datetime | None = None) -> Opened:
    """The reservation's checkout session, created if needed.

    Raises NotFound (404) if the reservation is not in the database (or not the user's: see
    :func:`raise_if_pending` for one still being decided), Gone (410) if the hold expired,
    Conflict (409) if it was rejected or released. Returns the session document."""
    now = now or utcnow()
    reservation = Reservation.get_or_none(Reservation.id == reservation_id)
    if reservation is None or reservation.user_id != user_id:
        raise NotFound(f"No reservation {reservation_id} for this user", field="reservation_id")
    existing = CheckoutSession.get_or_none(CheckoutSession.reservation == reservation.id)
    if existing is not None and existing.status in ("processing", "paid"):
        return Opened(session_document(existing), False)
    check_payable(reservation, now)
    if existing is not None:
        return Opened(session_document(existing), False)
    amount = TicketTier.get_by_id(reservation.tier_id).price_cents * reservation.quantity
    created = (
        CheckoutSession.insert(
            id=uuid.uuid4(), reservation=reservation.id, user_id=user_id, idempotency_key=idempotency_key,
            amount_cents=amount, status="open", created_at=now, updated_at=now,
        )
        .on_conflict_ignore()  # a concurrent request for this reservation won: use its session
        .as_rowcount()
        .execute()
    )
    session = CheckoutSession.get(CheckoutSession.reservation == reservation.id)
    if created:
        log.info("checkout session opened", extra={"event_id": str(reservation.event_id), "user_id": user_id,
                                                   "session_id": str(session.id), "amount_cents": amount})
    return Opened(session_document(session), bool(created))


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
