"""The scheduler process: ``python -m scheduler``. Runs every row of scheduler/schedule.py."""

from __future__ import annotations

import logging
import signal
import sys

from apscheduler.schedulers.blocking import BlockingScheduler

from scheduler.schedule import schedules
from workers import broker as _broker  # noqa: F401  (sets the broker before actors import)
from workers import runtime

log = logging.getLogger("ticketdrop.scheduler")


def build_scheduler() -> BlockingScheduler:
    settings = runtime.get().settings
    sched = BlockingScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 5})
    for row in schedules():
        sched.add_job(_guarded(row.name, row.job), "interval", seconds=row.interval_s(settings), id=row.name, name=row.name)
    return sched


def _guarded(name, job):
    def run() -> None:
        try:
            job()
        except Exception:  # noqa: BLE001 - one failing tick must not stop the scheduler
            log.exception("scheduled job failed", extra={"job": name})

    return run


def main() -> None:
    from models.logs import configure_logging

    configure_logging(runtime.get().settings, process="scheduler")
    sched = build_scheduler()
    signal.signal(signal.SIGTERM, lambda *_: sched.shutdown(wait=False))
    log.info("scheduler started", extra={"jobs": [j.id for j in sched.get_jobs()]})
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
