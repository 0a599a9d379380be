"""Checkout actors (queue "checkout"): settle an event's confirmed payments in batches, issue
tickets (the repair path), expire a lapsed checkout. Each is idempotent: a redelivered message
changes nothing twice. Declared on a broker by ``workers.actors.declare_actors``."""

from __future__ import annotations

from models import checkout, tickets
from models.commands import commands
from workers import runtime

#: Longest a run may take, in milliseconds (a batch is a few statements; 30 s is generous).
TIME_LIMIT_MS = 30_000


def settle_checkouts(event_id: str) -> None:
    """Settle the event's confirmed (processing) sessions, a batch per transaction: payments
    decided, holds converted or released, orders and their tickets written together. The
    event's settle flag is renewed meanwhile, and lapses soon after a kill."""
    rt = runtime.get()
    with runtime.db().connection_context(), checkout.settle_flag_kept(rt, event_id):
        checkout.settle_event(rt, event_id, lambda: commands().send_settle(event_id))


def confirm_checkout(session_id: str) -> None:
    """Settle one session now (a batch of one): kept for messages sent before batching and for
    operators repairing a single checkout by hand."""
    with runtime.db().connection_context():
        checkout.settle(runtime.get(), session_id)


def issue_tickets(order_id: str) -> None:
    """Create the order's missing tickets (the repair path the sweep and operators use; a
    settled batch already wrote them). The unique (order_id, seq) index drops duplicates."""
    rt = runtime.get()
    with runtime.db().connection_context():
        tickets.issue_for_order(rt.settings.secret_bytes, order_id, redis=rt.redis, keys=rt.keys)


def expire_checkout(session_id: str) -> None:
    """Expire a session whose hold lapsed and put the tickets back on sale at once."""
    with runtime.db().connection_context():
        checkout.expire_session(runtime.get(), session_id)
