"""Cancelling paid orders with a (simulated) refund: by an admin, by the fan within the
self-cancel window, or every order of a canceled event.

One transaction per batch of orders: ``paid -> refunded`` (with the refund's time and amount;
conditional, so a second cancel changes nothing), the orders' valid tickets ``valid -> void``
(the scanner answers "void"), and each tier's ``sold`` down by the tickets returned. A single
order with a checked-in ticket is refused (409) and nothing moves. After the commit Redis
follows (stock up, the fan's count down) and the event's waitlist is nudged, so the returned
tickets are offered to the next fans in line before anyone else may reserve them.

An event's refunds run in batches (``refund_event_orders``: the ``refund_event`` actor sent when
the event is canceled), and the sweep (``refund_canceled_orders``) finishes whatever a killed
worker left: each batch is its own transaction and re-reads what is still paid.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from models.commands import commands
from models.db import is_postgres
from models.errors import Conflict, NotFound
from models.metrics import ORDERS_REFUNDED
from models.redis import scripts
from models.sql import write_transaction
from models.tables import Event, Order, Ticket, TicketTier, utcnow
from models.timestamps import iso
from models.waitlist.nudge import nudge_sync
from models.waitlist.sweep import close_finished_waitlists

log = logging.getLogger("ticketdrop.checkout")

#: Orders one refund transaction cancels.
REFUND_BATCH = 200
#: Why an order was canceled (``orders.cancel_reason``).
REASONS = ("admin", "fan", "event_canceled")


@dataclass(frozen=True)
class Refunded:
    """An order this call refunded (what Redis must follow)."""

    id: str
    event_id: str
    tier_id: str
    user_id: str
    quantity: int
    amount_cents: int


class _Raced(Exception):
    """Another canceller moved one of the orders between our read and our update."""


def order_document(order: Order) -> dict[str, Any]:
    """An order as its fan (and the admin) sees it, with the refund once refunded."""
    refund = None
    if order.status == "refunded":
        refund = {"amount_cents": order.refund_cents, "refunded_at": iso(order.refunded_at), "reason": order.cancel_reason}
    return {"id": str(order.id), "status": order.status, "event_id": str(order.event_id), "tier_id": str(order.tier_id),
            "user_id": order.user_id, "quantity": order.quantity, "amount_cents": order.amount_cents,
            "created_at": iso(order.created_at), "refunded_at": iso(order.refunded_at),
            "refund_cents": order.refund_cents, "refund": refund}


def cancel_order(rt: Any, order_id: str | uuid.UUID, *, user_id: str | None = None, now: datetime | None = None) -> dict:
    """Cancel and refund one paid order: an admin's (``user_id`` None) or the fan's own, within
    the self-cancel window. Idempotent: a refunded order answers its document unchanged.

    Raises NotFound (404, path.id: unknown, or another fan's), Conflict (409: a ticket of it is
    checked in ``ticket_checked_in``; for a fan, ``self_cancel_not_allowed``,
    ``self_cancel_window_passed``, or ``ticket_transferred``: a ticket of it was given to another
    fan, whose ticket a refund would void). Returns the order's document."""
    now = now or utcnow()
    order = Order.get_or_none(Order.id == order_id)
    if order is None or (user_id is not None and order.user_id != user_id):
        raise NotFound(f"No order {order_id}" + (" of yours" if user_id is not None else ""), field="id")
    if order.status == "refunded":
        return order_document(order)
    if user_id is not None:
        _check_self_cancel(rt, order, now)
    reason = "admin" if user_id is None else "fan"
    done = refund_in_db([order.id], reason=reason, now=now, refuse_checked_in=True,
                        refuse_transferred=user_id is not None)
    follow_refunds(rt, done, offer=True)
    ORDERS_REFUNDED.labels(reason).inc(len(done))
    return order_document(Order.get_by_id(order.id))


def self_cancel_window_s(rt: Any, event: Event) -> int:
    """The event's self-cancel window in seconds (its override, else SELF_CANCEL_WINDOW_S)."""
    return rt.settings.self_cancel_window_s if event.self_cancel_window_s is None else event.self_cancel_window_s


def _check_self_cancel(rt: Any, order: Order, now: datetime) -> None:
    window = self_cancel_window_s(rt, Event.get_by_id(order.event_id))
    if window <= 0:
        raise Conflict("Orders of this event cannot be canceled by the fan; ask the organiser", field="id",
                       reason="self_cancel_not_allowed")
    deadline = order.created_at + timedelta(seconds=window)
    if now > deadline:
        raise Conflict(f"Orders may be canceled up to {window} s after purchase (until {iso(deadline)})",
                       field="id", reason="self_cancel_window_passed", deadline=iso(deadline))


def refund_in_db(order_ids: list[Any], *, reason: str, now: datetime | None = None,
                 refuse_checked_in: bool = False, refuse_transferred: bool = False) -> list[Refunded]:
    """Refund the still-paid orders among ``order_ids`` in one transaction (see the module
    docstring). Raises Conflict (nothing moved) if ``refuse_checked_in`` and a ticket of them is
    checked in, or ``refuse_transferred`` and one belongs to another fan now (transferred).
    Returns what this call refunded (empty if all were refunded already)."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {REASONS}, not {reason!r}")
    now = now or utcnow()
    for _ in range(3):
        try:
            with write_transaction():
                return _refund(order_ids, reason, now, refuse_checked_in, refuse_transferred)
        except _Raced:
            continue
    raise Conflict("The orders kept changing while they were refunded; retry", retry_after=1)


def _refund(order_ids: list[Any], reason: str, now: datetime, refuse_checked_in: bool,
            refuse_transferred: bool) -> list[Refunded]:
    query = Order.select().where(Order.id.in_(order_ids), Order.status == "paid")
    rows = list(query.for_update() if is_postgres() else query)
    if not rows:
        return []
    ids = [o.id for o in rows]
    moved = (Order.update(status="refunded", refunded_at=now, refund_cents=Order.amount_cents, cancel_reason=reason)
             .where(Order.id.in_(ids), Order.status == "paid").execute())
    if moved != len(rows):
        raise _Raced
    # Void before looking for check-ins: a scan racing this transaction either waits for our row
    # locks and finds the ticket void, or committed first and is seen here.
    Ticket.update(status="void").where(Ticket.order.in_(ids), Ticket.status == "valid").execute()
    if refuse_checked_in and Ticket.select().where(Ticket.order.in_(ids), Ticket.status == "checked_in").exists():
        raise Conflict("A ticket of this order is checked in: it cannot be refunded", field="id",
                       reason="ticket_checked_in")
    # Likewise for a transfer racing us: it committed first and is seen here, or finds the ticket void.
    if refuse_transferred and (Ticket.select().join(Order, on=(Ticket.order == Order.id))
                               .where(Ticket.order.in_(ids), Ticket.user_id != Order.user_id).exists()):
        raise Conflict("A ticket of this order was given to another fan: it cannot be refunded", field="id",
                       reason="ticket_transferred")
    by_tier: Counter[str] = Counter()
    for o in rows:
        by_tier[str(o.tier_id)] += o.quantity
    for tier_id, quantity in by_tier.items():
        if not (TicketTier.update(sold=TicketTier.sold - quantity, updated_at=now)
                .where(TicketTier.id == tier_id, TicketTier.sold >= quantity).execute()):
            raise RuntimeError(f"tier {tier_id} has sold fewer than the {quantity} tickets being refunded")
    return [Refunded(str(o.id), str(o.event_id), str(o.tier_id), o.user_id, o.quantity, o.amount_cents) for o in rows]


def follow_refunds(rt: Any, refunded: list[Refunded], *, offer: bool) -> None:
    """After the commit: Redis's stock and per-fan counts follow, and (``offer``) each tier's
    waitlist is nudged so the tickets go to the next fans in line."""
    if not refunded:
        return
    pipe = rt.redis.pipeline(transaction=False)
    for r in refunded:
        scripts(pipe).get("order_refund")(keys=[rt.keys.stock(r.event_id), rt.keys.user_counts(r.event_id)],
                                          args=[r.tier_id, r.user_id, r.quantity])
    pipe.execute()
    for r in refunded:
        log.info("order refunded", extra={"event_id": r.event_id, "user_id": r.user_id, "order_id": r.id,
                                          "amount_cents": r.amount_cents, "tickets": r.quantity})
    if offer:
        for event_id, tier_id in {(r.event_id, r.tier_id) for r in refunded}:
            nudge_sync(rt.redis, rt.keys, event_id, tier_id)


def refund_event_orders(rt: Any, event_id: str, *, limit: int = REFUND_BATCH) -> int:
    """Refund one batch of a canceled event's paid orders. Returns how many (0: none left)."""
    ids = [o for (o,) in Order.select(Order.id).where(Order.event == event_id, Order.status == "paid")
           .order_by(Order.created_at, Order.id).limit(limit).tuples()]
    if not ids:
        return 0
    done = refund_in_db(ids, reason="event_canceled")
    follow_refunds(rt, done, offer=False)  # the event is over: nobody is offered anything
    ORDERS_REFUNDED.labels("event_canceled").inc(len(done))
    return len(done)


def refund_canceled_orders(rt: Any, limit: int = REFUND_BATCH) -> int:
    """Sweep: refund up to ``limit`` paid orders of canceled events (finishes what a killed
    ``refund_event`` left). Returns how many."""
    event_ids = [e for (e,) in Order.select(Order.event).distinct()
                 .join(Event, on=(Event.id == Order.event))
                 .where(Event.status == "canceled", Order.status == "paid").tuples()]
    done = 0
    for event_id in event_ids:
        if done >= limit:
            break
        done += refund_event_orders(rt, str(event_id), limit=limit - done)
    if done:
        log.warning("recovery: refunded orders of canceled events", extra={"orders": done})
    return done


def on_event_canceled(event_id: str) -> None:
    """An admin canceled the event: close its waitlists and start refunding its paid orders
    (the ``refund_event`` actor; the sweep finishes if it dies). Idempotent; blocking."""
    close_finished_waitlists()
    commands().send_refund_event(str(event_id))
