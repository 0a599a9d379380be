"""The reservation drainer: ``drain_event(event_id)`` decides an event's queued requests.

Messages only say "this event has work"; order comes from the event's mailbox and lease (see
models/reservations/drain.py), so duplicate or redelivered messages are harmless. Declared on a
broker by ``workers.actors.declare_actors``.
"""

from __future__ import annotations

from functools import partial

from models.commands import commands
from models.reservations.drain import drain
from workers import runtime

#: Longest a run may take before Dramatiq interrupts it, in milliseconds (runs hand over
#: after models.reservations.drain.TIME_BOX_S, so this only catches a hung database).
TIME_LIMIT_MS = 60_000


def drain_event(event_id: str) -> None:
    """Decide the event's queued reservation requests, oldest first, until none are left."""
    rt = runtime.get()
    with runtime.db().connection_context():
        drain(rt, event_id, partial(commands().send_drain, event_id))
