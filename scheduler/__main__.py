"""The scheduler process: ``python -m scheduler``. Runs every row of scheduler/schedule.py."""

from __future__ import annotations

import logging
import signal
import sys

from apscheduler.schedulers.blocking import BlockingScheduler

from models.logs import configure_logging
from models.runtime import Runtime
from models.settings import run_process
from scheduler.schedule import schedules
from workers import runtime
from workers.actors import Actors
from workers.entry import wire

log = logging.getLogger("ticketdrop.scheduler")


def build_scheduler(rt: Runtime, actors: Actors) -> BlockingScheduler:
    sched = BlockingScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 5})
    for row in schedules(rt, actors):
        sched.add_job(_guarded(row.name, row.job), "interval", seconds=row.interval_s(rt.settings), id=row.name,
                      name=row.name)
    return sched


def _guarded(name, job):
    def run() -> None:
        try:
            job()
        except Exception:  # noqa: BLE001 - one failing tick must not stop the scheduler
            log.exception("scheduled job failed", extra={"job": name})

    return run


def main() -> None:
    rt = runtime.get()
    configure_logging(rt.settings, process="scheduler")
    sched = build_scheduler(rt, wire(rt.settings).actors)
    signal.signal(signal.SIGTERM, lambda *_: sched.shutdown(wait=False))
    log.info("scheduler started", extra={"jobs": [j.id for j in sched.get_jobs()]})
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    sys.exit(0)


if __name__ == "__main__":
    run_process(main)
