"""The fan's orders."""

from __future__ import annotations

from typing import Any

import peewee

from models.tables import Event, Order, Ticket, TicketTier
from models.timestamps import iso


def user_orders(user_id: str) -> list[dict[str, Any]]:
    """Every order of ``user_id``, newest first, with how many of its tickets are issued."""
    issued = peewee.fn.COUNT(Ticket.id).alias("tickets_issued")
    query = (
        Order.select(Order, Event, TicketTier, issued)
        .join(Event, on=(Order.event == Event.id))
        .switch(Order)
        .join(TicketTier, on=(Order.tier == TicketTier.id))
        .switch(Order)
        .join(Ticket, peewee.JOIN.LEFT_OUTER, on=(Ticket.order == Order.id))
        .where(Order.user_id == user_id)
        .group_by(Order, Event, TicketTier)
        .order_by(Order.created_at.desc(), Order.id)
    )
    return [
        {
            "id": str(o.id), "checkoutId": str(o.checkout_session_id), "status": o.status,
            "quantity": o.quantity, "amount_cents": o.amount_cents, "tickets_issued": o.tickets_issued,
            "event": {"id": str(o.event.id), "name": o.event.name, "venue": o.event.venue, "starts_at": iso(o.event.starts_at),
                      "timezone": o.event.timezone},
            "tier": {"id": str(o.tier.id), "name": o.tier.name},
            "created_at": iso(o.created_at),
            "refunded_at": iso(o.refunded_at), "refund_cents": o.refund_cents,
        }
        for o in query
    ]
