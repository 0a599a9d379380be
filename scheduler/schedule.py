"""Every periodic job, in one table. The scheduler only decides *when*; each job calls a
service or sends an actor message. Jobs that must not run twice at once take a Redis lease."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from models.runtime import Runtime
from models.settings import Settings
from models.sweeps import run_all_sweeps
from models.waiting_room.waves import admit_waves, tick_interval_s
from workers.actors import Actors


@dataclass(frozen=True)
class Schedule:
    name: str
    #: Seconds between runs, from settings.
    interval_s: Callable[[Settings], float]
    #: The job; called with no arguments in the scheduler process.
    job: Callable[[], None]


#: Worker heartbeat interval, in seconds.
HEARTBEAT_INTERVAL_S = 10.0


def schedules(rt: Runtime, actors: Actors) -> list[Schedule]:
    """The table: the worker heartbeat, the expiry & recovery sweeps, the admission waves."""
    return [
        Schedule("worker_heartbeat", lambda s: HEARTBEAT_INTERVAL_S, lambda: actors.echo.send(uuid.uuid4().hex)),
        Schedule("expiry_recovery_sweep", lambda s: s.sweep_interval_s, lambda: run_all_sweeps(rt)),
        Schedule("admission_waves", tick_interval_s, lambda: admit_waves(rt)),
    ]
