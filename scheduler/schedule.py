"""Every periodic job, in one table. The scheduler only decides *when*; each job calls a
service or sends an actor message. Jobs that must not run twice at once take a Redis lease."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from models.settings import Settings
from models.sweeps import sweep_job
from models.waiting_room.waves import tick_interval_s, wave_job


@dataclass(frozen=True)
class Schedule:
    name: str
    #: Seconds between runs, from settings.
    interval_s: Callable[[Settings], float]
    #: The job; called with no arguments in the scheduler process.
    job: Callable[[], None]


def _heartbeat() -> None:
    from workers.system import echo

    echo.send(uuid.uuid4().hex)


#: Worker heartbeat interval, in seconds.
HEARTBEAT_INTERVAL_S = 10.0


def schedules() -> list[Schedule]:
    """The table. Later issues add rows here (wave admission, expiry sweeps)."""
    return [
        Schedule("worker_heartbeat", lambda s: HEARTBEAT_INTERVAL_S, _heartbeat),
        Schedule("expiry_recovery_sweep", lambda s: s.sweep_interval_s, sweep_job),
        Schedule("admission_waves", tick_interval_s, wave_job),
    ]
