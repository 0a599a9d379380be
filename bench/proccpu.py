"""CPU time by group of processes, read from /proc before and after a measured window.

    before = snapshot({"web": [pid], "redis": [pid]})
    ... the window ...
    used_ms = cpu_used_ms(before, snapshot(same groups))

A group's processes are read with their descendants (a dramatiq master and its worker
processes); each process's utime + stime covers all its threads. Processes that start during
the window count in full (their whole life is inside it); processes that exit during the
window are lost (their CPU is gone from /proc) and are counted in ``CpuUsage.lost``.

PostgreSQL's share of the work is its backends of one database (:func:`backend_pids`), read
without children; :func:`is_backend_of` tells whether they can be seen from here at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Clock ticks per second of /proc/PID/stat's utime and stime.
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def parse_stat_ticks(stat: str) -> tuple[int, int]:
    """(utime + stime in clock ticks, start time in ticks since boot) from /proc/PID/stat's text.

    The command name (field 2) may hold spaces and parentheses, so fields are counted after the
    last ')'. Raises ValueError on text that is not a stat line.
    """
    close = stat.rfind(")")
    if close < 0:
        raise ValueError("not a /proc/PID/stat line: no ')'")
    rest = stat[close + 2:].split()
    # rest[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
    if len(rest) < 20:
        raise ValueError("not a /proc/PID/stat line: too few fields")
    return int(rest[11]) + int(rest[12]), int(rest[19])


def descendants(pid: int, proc: Path = PROC) -> list[int]:
    """``pid`` and every process below it (children of all its threads), breadth first."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        found.append(current)
        try:
            tasks = list((proc / str(current) / "task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                queue += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


#: A process is identified by (pid, start time): a reused pid is another process.
ProcessKey = tuple[int, int]


def read_process(pid: int, proc: Path = PROC) -> tuple[ProcessKey, int] | None:
    """((pid, start ticks), CPU ticks) of one process, None when it is gone."""
    try:
        ticks, started = parse_stat_ticks((proc / str(pid) / "stat").read_text())
    except (OSError, ValueError):
        return None
    return (pid, started), ticks


#: group name -> {process key: CPU ticks}
Snapshot = dict[str, dict[ProcessKey, int]]


def snapshot(groups: Mapping[str, Iterable[int]], *, with_children: bool = True, proc: Path = PROC) -> Snapshot:
    """Read every group's processes (and their descendants unless ``with_children=False``)."""
    out: Snapshot = {}
    for name, pids in groups.items():
        seen: dict[ProcessKey, int] = {}
        for pid in pids:
            for p in descendants(pid, proc) if with_children else [pid]:
                got = read_process(p, proc)
                if got is not None:
                    seen[got[0]] = got[1]
        out[name] = seen
    return out


@dataclass
class CpuUsage:
    """CPU used in a window, in milliseconds per group, and processes whose CPU was lost."""

    ms: dict[str, float] = field(default_factory=dict)
    #: group -> processes seen before the window but gone after it (their CPU is not counted).
    lost: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: CpuUsage) -> CpuUsage:
        """The usage of two windows together (one window cut in two at a moment in between)."""
        return CpuUsage({k: self.ms.get(k, 0.0) + other.ms.get(k, 0.0) for k in self.ms | other.ms},
                        {k: self.lost.get(k, 0) + other.lost.get(k, 0) for k in self.lost | other.lost})

    @property
    def total_ms(self) -> float:
        return sum(self.ms.values())

    def per_unit(self, units: int) -> dict[str, float]:
        """Milliseconds per unit of work by group, plus "total"; all 0.0 when ``units`` is 0."""
        if units <= 0:
            return {**{k: 0.0 for k in self.ms}, "total": 0.0}
        return {**{k: v / units for k, v in self.ms.items()}, "total": self.total_ms / units}


def cpu_used(before: Snapshot, after: Snapshot, ticks_per_s: int = CLOCK_TICKS_PER_S) -> CpuUsage:
    """CPU used between two snapshots, per group (see the module docstring for the rules)."""
    usage = CpuUsage()
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name, {}), after.get(name, {})
        ticks = sum(t - b.get(key, 0) for key, t in a.items())
        usage.ms[name] = ticks * 1000.0 / ticks_per_s
        lost = sum(1 for key in b if key not in a)
        if lost:
            usage.lost[name] = lost
    return usage


def backend_pids(cursor, database: str, previous: Snapshot | None = None) -> list[int]:
    """Pids of the PostgreSQL backends connected to ``database`` but the asking one (``cursor``'s,
    a DB-API cursor), with those of ``previous``'s "postgres" group: a backend that served the
    window and closed is lost either way, one still closing is read."""
    cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
    pids = {pid for (pid,) in cursor.fetchall()}
    if previous is not None:
        pids |= {key[0] for key in previous.get("postgres", {})}
    return sorted(pids)


def is_backend_of(pid: int, database: str, proc: Path = PROC) -> bool:
    """Whether process ``pid`` here is a PostgreSQL backend of ``database``, by its title
    ("postgres: [cluster: ]user database host(port) state"). False when PostgreSQL's processes are
    out of sight (another host, a container's pid namespace: its pids mean other processes here)."""
    try:
        title = (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return title.startswith("postgres:") and database in title.split()
