"""Checkout actors (queue "checkout"): settle a confirmed payment, issue tickets, expire a
lapsed checkout. Each is idempotent: a redelivered message changes nothing twice."""

from __future__ import annotations

import dramatiq

from models import checkout, tickets
from workers import runtime
from workers.broker import settings

#: Actor options shared by every checkout command (a run is a few queries; 30 s is generous).
_OPTIONS = {"queue_name": "checkout", "max_retries": settings.actor_max_retries, "time_limit": 30_000}


@dramatiq.actor(**_OPTIONS)
def issue_tickets(order_id: str) -> None:
    """Create the order's missing tickets (the unique (order_id, seq) index drops duplicates)."""
    rt = runtime.get()
    tickets.issue_for_order(rt.settings.secret_bytes, order_id, redis=rt.redis, keys=rt.keys)


@dramatiq.actor(**_OPTIONS)
def confirm_checkout(session_id: str) -> None:
    """Decide and settle the session's payment; on success send the issuance command (after the commit)."""
    settlement = checkout.settle(runtime.get(), session_id)
    if settlement.order_id is not None:
        issue_tickets.send(settlement.order_id)


@dramatiq.actor(**_OPTIONS)
def expire_checkout(session_id: str) -> None:
    """Expire a session whose hold lapsed and put the tickets back on sale at once."""
    checkout.expire_session(runtime.get(), session_id)
