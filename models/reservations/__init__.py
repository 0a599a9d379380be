"""Reservations: requests queued per event, decided in order by one drainer, holds with a TTL.

The functions other domains call (checkout, operations) are re-exported here and from
``models.inventory``.
"""

from models.reservations.counters import rebuild_counters
from models.reservations.holds import expire_due_holds, release_hold
from models.reservations.kick import kick_stalled_mailboxes

__all__ = [
    "expire_due_holds",
    "kick_stalled_mailboxes",
    "rebuild_counters",
    "release_hold",
]
