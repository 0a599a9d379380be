"""Order actors (queue "checkout"): refund a canceled event's paid orders, batch by batch."""

from __future__ import annotations

import time

import dramatiq

from models.checkout import refunds
from workers import runtime
from workers.broker import queue, settings

#: A run hands over to a fresh message after this long, in seconds (other work gets threads).
TIME_BOX_S = 20.0


@dramatiq.actor(queue_name=queue("checkout"), max_retries=settings.actor_max_retries, time_limit=60_000)
def refund_event(event_id: str) -> None:
    """Refund the canceled event's paid orders, REFUND_BATCH per transaction, until none is left
    (idempotent: each batch re-reads what is still paid; the sweep finishes a killed run)."""
    rt = runtime.get()
    deadline = time.monotonic() + TIME_BOX_S
    with runtime.db().connection_context():
        while refunds.refund_event_orders(rt, event_id):
            if time.monotonic() >= deadline:
                refund_event.send(event_id)
                return
