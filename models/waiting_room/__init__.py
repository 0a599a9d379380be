"""The waiting room: a fair, verifiable queue in front of each event's sale.

Join before on-sale and you are in the pre-queue, drawn at on-sale by HMAC(salt, token) with
the salt committed in advance and revealed afterwards; join later and you queue first come,
first served. A scheduler tick admits waves of positions, never more than can still be sold.
Read models/waiting_room/store.py for the Redis layout.
"""

from models.waiting_room.admission import (
    Admission,
    AdmissionQuery,
    admission_query,
    admitted,
    check_admission,
    expire_admissions,
    mark_used,
    mark_used_sync,
)
from models.waiting_room.service import JoinResult, RoomService
from models.waiting_room.stats import queue_stats
from models.waiting_room.waves import admit_waves, tick_interval_s

__all__ = [
    "Admission",
    "AdmissionQuery",
    "JoinResult",
    "RoomService",
    "admission_query",
    "admit_waves",
    "admitted",
    "check_admission",
    "expire_admissions",
    "mark_used",
    "mark_used_sync",
    "queue_stats",
    "tick_interval_s",
]
