"""What fans see of a checkout session (and of its order and tickets once they exist)."""

from __future__ import annotations

import uuid
from typing import Any

from models.errors import NotFound
from models.tables import CheckoutSession, Order, Reservation, Ticket
from models.tickets import iso, ticket_summary


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
    return {
        "id": str(session.id), "checkoutId": str(session.id), "reservation_id": str(reservation.id),
        "status": session.status, "amount_cents": session.amount_cents,
        "event_id": str(reservation.event_id), "tier_id": str(reservation.tier_id), "quantity": reservation.quantity,
        "expires_at": iso(reservation.expires_at), "simulate": session.simulate,
        "failure_reason": session.failure_reason,
        "order_id": str(order.id) if order else None, "tickets": [ticket_summary(t) for t in tickets],
        "created_at": iso(session.created_at), "updated_at": iso(session.updated_at),
    }


def get_session_document(user_id: str, session_id: str | uuid.UUID) -> dict[str, Any]:
    """The owner's view of a session. Raises NotFound (404, field path.id) for unknown ids and other users' sessions."""
    return session_document(owned_session(user_id, session_id, field="path.id"))
