"""What one Redis server spends over a measured window: its CPU time (from /proc, only when the
server runs on this machine) and the commands it ran (INFO commandstats, from any host).

    cost = RedisCost.of(redis)
    before = cost.read()
    ... the window ...
    figures = cost.per_request(before, cost.read(), requests)

Both are the whole server's: every client of that Redis during the window counts, and the
commands a Lua script runs (``redis.call``) count beside the EVALSHA that ran them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import proccpu, workcount

#: Client hosts that are this machine.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Largest gap allowed between the start INFO's uptime gives and the start /proc gives, in seconds.
#: Not a few seconds: /proc counts from boot on the kernel's boot clock, Redis from the wall clock,
#: and a machine paused and resumed (a VM restored from a snapshot) or a stepped clock moves the
#: two apart (seen: 7 s after 2.8 hours, and the bench refused its own Redis). A minute still
#: refuses another container's redis-server that happens to have the same pid.
START_SLACK_S = 60.0


def address(redis: Any) -> str | None:
    """The client's server as ``host`` or ``unix:PATH``; None for a cluster client (several servers)."""
    pool = getattr(redis, "connection_pool", None)
    if pool is None:
        return None
    kwargs = pool.connection_kwargs
    return f"unix:{kwargs['path']}" if kwargs.get("path") else str(kwargs.get("host", "localhost"))


def _boot_s(proc: Path) -> float:
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")


def local_pid(where: str | None, info_server: Mapping[str, Any], *, proc: Path = proccpu.PROC,
              ticks_per_s: int = proccpu.CLOCK_TICKS_PER_S) -> tuple[int | None, str | None]:
    """``(pid, None)`` of the redis-server ``INFO server`` describes when it runs on this machine,
    else ``(None, why)``. ``where``: what :func:`address` returns. The pid must name a live
    process called redis-server that started when Redis says it did (``server_time_usec`` minus
    ``uptime_in_seconds``), so a pid from another machine or container is refused."""
    if where is None:
        return None, "a Redis Cluster client: several servers, not read"
    if not where.startswith("unix:") and where not in LOCAL_HOSTS:
        return None, f"Redis at {where} is not this machine: its CPU cannot be read from /proc"
    pid = int(info_server.get("process_id") or 0)
    try:
        comm = (proc / str(pid) / "comm").read_text().strip()
        got = proccpu.read_process(pid, proc)
        boot_s = _boot_s(proc)
    except (OSError, ValueError):
        return None, f"INFO server's process_id {pid} is not a process here (another machine or container?)"
    if comm != "redis-server" or got is None:
        return None, f"INFO server's process_id {pid} is {comm!r} here, not redis-server"
    started_s = boot_s + got[0][1] / ticks_per_s
    redis_started_s = int(info_server["server_time_usec"]) / 1e6 - int(info_server["uptime_in_seconds"])
    if abs(started_s - redis_started_s) > START_SLACK_S:
        return None, (f"process {pid} here is a redis-server started {started_s - redis_started_s:+.0f} s from "
                      "when this Redis started: another one")
    return pid, None


@dataclass(frozen=True)
class Reading:
    """One look at the server: its CPU ticks (None when not on this machine) and calls per command
    (None for a cluster client)."""

    cpu: proccpu.Snapshot | None
    calls: dict[str, int] | None


def per_request(before: Reading, after: Reading, requests: int) -> dict[str, Any]:
    """Redis CPU (µs) and commands per request between two readings, with the commands by name
    (those at 0.01 per request or more). The INFO that took ``before`` is not counted."""
    n = max(1, requests)
    cpu_us = None
    if before.cpu is not None and after.cpu is not None:
        used = proccpu.cpu_used(before.cpu, after.cpu)
        cpu_us = None if used.lost else round(used.ms["redis"] * 1000 / n, 1)
    if before.calls is None or after.calls is None:
        return {"redis_cpu_us_per_request": cpu_us, "redis_commands_per_request": None, "redis_commands": None}
    calls = workcount.delta(before.calls, after.calls, ignore={"info": 1})
    by_command = {name: round(c / n, 2) for name, c in sorted(calls.items(), key=lambda kv: -kv[1]) if c / n >= 0.01}
    return {"redis_cpu_us_per_request": cpu_us, "redis_commands_per_request": round(sum(calls.values()) / n, 2),
            "redis_commands": by_command}


@dataclass(frozen=True)
class RedisCost:
    """A Redis client and, when that server runs here, its pid (else why not: ``no_cpu``)."""

    redis: Any
    pid: int | None
    no_cpu: str | None

    @classmethod
    def of(cls, redis: Any) -> RedisCost:
        where = address(redis)
        pid, why = local_pid(where, redis.info("server") if where is not None else {})
        return cls(redis, pid, why)

    def read(self) -> Reading:
        cpu = None if self.pid is None else proccpu.snapshot({"redis": [self.pid]}, with_children=False)
        if address(self.redis) is None:
            return Reading(cpu, None)  # a cluster's INFO is per node: not summed here
        return Reading(cpu, workcount.commandstats_calls(self.redis.info("commandstats")))

    def describe(self) -> str:
        """One line for the benchmark's header."""
        if address(self.redis) is None:
            return f"Redis CPU and commands per request: null ({self.no_cpu})"
        if self.pid is None:
            return f"Redis CPU per request: null ({self.no_cpu}); commands from INFO commandstats"
        return (f"Redis CPU per request: redis-server pid {self.pid} from /proc, and commands from INFO commandstats "
                "(the whole server's: other clients of this Redis count too)")
