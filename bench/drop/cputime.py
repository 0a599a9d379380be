"""CPU time of a drop's processes by kind, read from /proc (bench.proccpu) at the phase boundaries.

Kinds: ``web``, ``worker``, ``scheduler`` (the system's processes with their children),
``redis``, ``postgres``, the ``simulator`` itself (without its children: they are the system),
and on a drop across hosts the data host's other servers (``rabbitmq``, ``nginx``).

PostgreSQL is the backends of the drop's own database (pg_stat_activity), not the server's
background processes, which serve every database on it. On a drop across hosts
(bench/drop/hosts.py) the data host runs a PostgreSQL of its own, counted whole like the other
servers there. Before counting backends the meter checks that its own backend's pid is, here,
a backend of that database (:func:`bench.proccpu.is_backend_of`): a PostgreSQL on another host
or in a container has pids that mean other processes here, and the report says it was not
counted instead of a wrong figure.

A process that exits between two readings takes its CPU since the earlier one with it (the
pooled connections' backends do, every ``stale_timeout``): so the meter reads every
:data:`READ_EVERY_S` seconds as well as at the phase boundaries, and a phase is the sum of the
differences between consecutive readings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from bench import proccpu

log = logging.getLogger("bench.drop")

#: The run's moments at which the meter reads, in order, and the phase each one opens.
PHASE_FROM = {"start": "pre-sale", "on_sale": "on-sale to sold out", "sold_out": "after sold out", "crowd_done": "drain"}
MOMENTS = (*PHASE_FROM, "end")
#: The report's order of kinds; others (a drop across hosts' rabbitmq, nginx) follow.
KINDS = ("simulator", "web", "worker", "scheduler", "redis", "postgres")
#: Seconds between the meter's readings (a reading costs a few milliseconds of the simulator's CPU).
READ_EVERY_S = 2.0


class CpuMeter:
    """Snapshots of a drop's processes' CPU; :attr:`postgres` says how PostgreSQL is counted."""

    def __init__(self, system, now: Callable[[], float], proc: Path = proccpu.PROC) -> None:
        self.system = system
        self.now = now
        self.proc = proc
        self.conn = None
        self.database = ""
        #: How PostgreSQL is counted (or why not), for the report.
        self.postgres = ""
        #: (time, snapshot) of every reading, and the time of each moment of :data:`MOMENTS` read.
        self.readings: list[tuple[float, proccpu.Snapshot]] = []
        self.marks: dict[str, float] = {}
        self._lock = threading.Lock()

    def open(self, connect=None) -> None:
        """Find out how PostgreSQL can be counted; ``connect(url)`` opens a DB-API connection (psycopg2's)."""
        db = self.system.database
        if any(d.name == "postgres" for d in getattr(self.system, "daemons", [])):
            self.postgres = "the data host's own PostgreSQL server, all its processes"
            return
        if db is None or db.kind != "postgresql":
            self.postgres = "not counted: the database is SQLite, inside the web and worker processes"
            return
        if connect is None:
            import psycopg2 as connect_module

            connect = connect_module.connect
        try:
            self.conn = connect(db.url)
            self.conn.autocommit = True
            with self.conn.cursor() as cur:
                cur.execute("SELECT current_database(), pg_backend_pid()")
                name, pid = cur.fetchone()
        except Exception as exc:  # noqa: BLE001 - the drop goes on, PostgreSQL uncounted
            self.close()
            self.postgres = f"not counted: could not ask PostgreSQL for its backends ({type(exc).__name__})"
            return
        if not proccpu.is_backend_of(pid, name, self.proc):
            self.close()
            self.postgres = (f"not counted: PostgreSQL's processes are not visible from here (its backend {pid} is "
                             "no backend of the drop's database on this machine: another host or a container)")
            return
        self.database = name
        self.postgres = f"the backends of the drop's database {name}; not the server's background processes"

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def groups(self) -> dict[str, list[int]]:
        """Pids by kind of the system's processes and servers (read with their children)."""
        groups: dict[str, list[int]] = {}
        for svc in [*self.system.services, *getattr(self.system, "daemons", [])]:
            if svc.proc is not None:
                groups.setdefault(svc.name.split("-")[0], []).append(svc.proc.pid)
        redis = self.system.redis
        pids = [redis.proc.pid] if redis is not None and redis.proc is not None else getattr(self.system, "redis_pids", [])
        if pids:
            groups["redis"] = list(pids)
        return groups

    def read(self, moment: str | None = None) -> proccpu.Snapshot:
        """Every kind's processes' CPU now, kept in :attr:`readings` (and the time as ``moment``'s)."""
        with self._lock:
            last = self.readings[-1][1] if self.readings else None
            at = self.now()
            alone = {"simulator": [os.getpid()]}
            if self.conn is not None:
                try:
                    with self.conn.cursor() as cur:
                        alone["postgres"] = proccpu.backend_pids(cur, self.database, last)
                except Exception as exc:  # noqa: BLE001 - the backends seen before are read all the same
                    log.warning("could not list PostgreSQL's backends: %s", exc)
                    alone["postgres"] = sorted({key[0] for key in (last or {}).get("postgres", {})})
            snap = proccpu.snapshot(self.groups(), proc=self.proc)
            snap.update(proccpu.snapshot(alone, with_children=False, proc=self.proc))
            self.readings.append((at, snap))
            if moment is not None:
                self.marks[moment] = at
            return snap

    async def run(self, stop: asyncio.Event, every_s: float = READ_EVERY_S) -> None:
        """Read every ``every_s`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except TimeoutError:
                await asyncio.to_thread(self.read)

    def summary(self, requests_between: Callable[[float, float], int]) -> dict:
        """The results' CPU figures (:func:`summary`) with how PostgreSQL is counted."""
        return {"postgres": self.postgres, **summary(self.marks, self.readings, requests_between)}


def by_phase(marks: dict[str, float], readings: list[tuple[float, proccpu.Snapshot]]) -> dict[str, tuple[float, float, proccpu.CpuUsage]]:
    """(start, end, CPU used) of each phase between two of ``marks`` (:data:`MOMENTS` -> time): the
    sum of the differences between consecutive ``readings`` ((time, snapshot), those of the marks
    among them) from its start to its end. Without a "sold_out" mark, "on-sale to sold out" runs
    to the crowd's end."""
    readings = sorted(readings, key=lambda r: r[0])
    taken = [m for m in MOMENTS if m in marks]
    phases = {}
    for a, b in pairwise(taken):
        inside = [snap for t, snap in readings if marks[a] <= t <= marks[b]]
        usage = sum((proccpu.cpu_used(x, y) for x, y in pairwise(inside)), proccpu.CpuUsage())
        phases[PHASE_FROM[a]] = (marks[a], marks[b], usage)
    return phases


def seconds_by_kind(usage: proccpu.CpuUsage) -> dict[str, float]:
    """CPU seconds by kind, in the report's order (:data:`KINDS`, then the others by name)."""
    order = [k for k in KINDS if k in usage.ms] + sorted(k for k in usage.ms if k not in KINDS)
    return {k: round(usage.ms[k] / 1000.0, 1) for k in order}


def summary(marks: dict[str, float], readings: list[tuple[float, proccpu.Snapshot]],
            requests_between: Callable[[float, float], int]) -> dict:
    """The results' CPU figures: ``total`` (seconds by kind, the sum of the phases: a process seen
    at any reading counts), ``lost`` (processes by kind that exited between two readings, their
    CPU since the earlier one not counted), ``read_every_s`` and ``by_phase``: seconds, CPU seconds
    by kind and the requests the simulator started in it (``requests_between(start, end)``)."""
    phases = by_phase(marks, readings)
    total = sum((usage for _, _, usage in phases.values()), proccpu.CpuUsage())
    table = {name: {"seconds": round(end - start, 1), "cpu_s": seconds_by_kind(usage), "requests": requests_between(start, end)}
             for name, (start, end, usage) in phases.items()}
    return {"total": seconds_by_kind(total), "lost": dict(total.lost), "read_every_s": READ_EVERY_S, "by_phase": table}
