"""Checkout actors (queue "checkout"): settle an event's confirmed payments in batches, issue
tickets (the repair path), expire a lapsed checkout. Each is idempotent: a redelivered message
changes nothing twice."""

from __future__ import annotations

import dramatiq

from models import checkout, tickets
from workers import runtime
from workers.broker import queue, settings

#: Actor options shared by every checkout command (a batch is a few statements; 30 s is generous).
_OPTIONS = {"queue_name": queue("checkout"), "max_retries": settings.actor_max_retries, "time_limit": 30_000}


@dramatiq.actor(**_OPTIONS)
def settle_checkouts(event_id: str) -> None:
    """Settle the event's confirmed (processing) sessions, a batch per transaction: payments
    decided, holds converted or released, orders and their tickets written together."""
    rt = runtime.get()
    with runtime.db().connection_context():
        checkout.settle_event(rt, event_id, lambda: settle_checkouts.send(event_id))


@dramatiq.actor(**_OPTIONS)
def confirm_checkout(session_id: str) -> None:
    """Settle one session now (a batch of one): kept for messages sent before batching and for
    operators repairing a single checkout by hand."""
    with runtime.db().connection_context():
        checkout.settle(runtime.get(), session_id)


@dramatiq.actor(**_OPTIONS)
def issue_tickets(order_id: str) -> None:
    """Create the order's missing tickets (the repair path the sweep and operators use; a
    settled batch already wrote them). The unique (order_id, seq) index drops duplicates."""
    rt = runtime.get()
    with runtime.db().connection_context():
        tickets.issue_for_order(rt.settings.secret_bytes, order_id, redis=rt.redis, keys=rt.keys)


@dramatiq.actor(**_OPTIONS)
def expire_checkout(session_id: str) -> None:
    """Expire a session whose hold lapsed and put the tickets back on sale at once."""
    with runtime.db().connection_context():
        checkout.expire_session(runtime.get(), session_id)
