"""What fans see of a checkout session (and of its order and tickets once they exist)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from models.errors import NotFound
from models.tables import CheckoutSession, Order, Reservation, Ticket
from models.tickets import ticket_summary
from models.timestamps import iso


def session_location(session_id: str | uuid.UUID) -> str:
    return f"/checkout/sessions/{session_id}"


def owned_session(user_id: str, session_id: str | uuid.UUID, *, field: str = "checkoutId") -> CheckoutSession:
    """The session with its reservation. Raises NotFound (404, naming ``field``) if unknown or another user's."""
    session = (
        CheckoutSession.select(CheckoutSession, Reservation)
        .join(Reservation)
        .where(CheckoutSession.id == session_id)
        .first()
    )
    if session is None or session.user_id != user_id:
        raise NotFound(f"No checkout session {session_id} for this user", field=field)
    return session


def session_document(session: CheckoutSession) -> dict[str, Any]:
    """The session; ``order_id`` and ``tickets`` are filled once paid and issued.

    ``expires_at`` is when the hold (and so the chance to pay) ends."""
    reservation: Reservation = session.reservation
    order = Order.get_or_none(Order.session == session.id) if session.status == "paid" else None
    tickets = list(Ticket.select().where(Ticket.order == order.id).order_by(Ticket.seq)) if order else []
    return document(
        session_id=session.id, reservation_id=reservation.id, status=session.status, amount_cents=session.amount_cents,
        event_id=reservation.event_id, tier_id=reservation.tier_id, quantity=reservation.quantity,
        expires_at=reservation.expires_at, simulate=session.simulate, failure_reason=session.failure_reason,
        order_id=order.id if order else None, tickets=[ticket_summary(t) for t in tickets],
        created_at=session.created_at, updated_at=session.updated_at)


def document(*, session_id: Any, reservation_id: Any, status: str, amount_cents: int, event_id: Any, tier_id: Any,
             quantity: int, expires_at: datetime | None, simulate: str | None, failure_reason: str | None,
             order_id: Any, tickets: list[dict[str, Any]], created_at: datetime, updated_at: datetime) -> dict[str, Any]:
    """The session document from its parts (the hot paths build it from rows they just wrote)."""
    return {
        "id": str(session_id), "checkoutId": str(session_id), "reservation_id": str(reservation_id),
        "status": status, "amount_cents": amount_cents,
        "event_id": str(event_id), "tier_id": str(tier_id), "quantity": quantity,
        "expires_at": iso(expires_at), "simulate": simulate, "failure_reason": failure_reason,
        "order_id": str(order_id) if order_id else None, "tickets": tickets,
        "created_at": iso(created_at), "updated_at": iso(updated_at),
    }


def get_session_document(user_id: str, session_id: str | uuid.UUID) -> dict[str, Any]:
    """The owner's view of a session. Raises NotFound (404, field path.id) for unknown ids and other users' sessions."""
    return session_document(owned_session(user_id, session_id, field="id"))
