"""Order actors (queue "checkout"): refund a canceled event's paid orders, batch by batch.
Declared on a broker by ``workers.actors.declare_actors``."""

from __future__ import annotations

import time

from models.checkout import refunds
from models.commands import commands
from workers import runtime

#: A run hands over to a fresh message after this long, in seconds (other work gets threads).
TIME_BOX_S = 20.0
#: Longest a run may take, in milliseconds.
TIME_LIMIT_MS = 60_000


def refund_event(event_id: str) -> None:
    """Refund the canceled event's paid orders, REFUND_BATCH per transaction, until none is left
    (idempotent: each batch re-reads what is still paid; the sweep finishes a killed run)."""
    rt = runtime.get()
    deadline = time.monotonic() + TIME_BOX_S
    with runtime.db().connection_context():
        while refunds.refund_event_orders(rt, event_id):
            if time.monotonic() >= deadline:
                commands().send_refund_event(event_id)
                return
