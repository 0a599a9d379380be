"""Drive wrk (the C load generator) from the benchmarks and read back its figures, and the
throwaway deployment the HTTP benchmarks (bench.waiting_room, bench.edge) load.

Request-rate ratios are only meaningful when the client costs little next to the server, so
every ratio in bench/ is taken with wrk, never with a Python client. Each run uses a generated
Lua script that walks a list of request paths (and optional per-request headers), so the
trivial handler and the routes under test pay the same client-side cost.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench import rediscost
from bench.drop.procs import stop_all
from models.db import bind_database, open_database
from models.keys import Keys
from models.redis import connect_sync
from models.schema import create_schema
from models.settings import Settings

#: Where ``apt-get install wrk`` puts it.
WRK = "wrk"

_LUA = r"""
local paths = {}
local method = "%(method)s"
local header_prefix = "%(header_prefix)s"
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local all = {}
  for line in io.lines("%(paths_file)s") do
    if line ~= "" then all[#all + 1] = line end
  end
  -- thread k takes every nthreads-th path, so two threads never send the same one
  for n = id, #all, %(threads)d do paths[#paths + 1] = all[n] end
  if #paths == 0 then paths = all end
  i = 0
  sent = 0
end

function request()
  i = i + 1
  if i > #paths then i = 1 end
  sent = sent + 1
  local headers = nil
  if header_prefix ~= "" then
    headers = {["X-User-Id"] = header_prefix .. id .. "-" .. sent}
  end
  if method == "POST" then
    return wrk.format("POST", paths[i], headers, "")
  end
  return wrk.format("GET", paths[i], headers)
end
"""

_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(m?s|m)")
_P99 = re.compile(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def available() -> str | None:
    """The wrk binary's path, or None (then say so and skip: never fall back to a Python client)."""
    return shutil.which(WRK)


def install_hint() -> str:
    return "wrk is not installed: `apt-get install -y wrk` (Debian package), then run again"


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p99_ms: float
    non_2xx_3xx: int
    socket_errors: int
    server_cpu_us_per_request: float
    #: wrk's own CPU (user + system, from its rusage) per request.
    wrk_cpu_us_per_request: float = 0.0
    #: rediscost.per_request's figures, when run() was given the Redis the servers use.
    redis: dict | None = None

    def as_dict(self) -> dict:
        return {"rps": round(self.rps), "p99_ms": round(self.p99_ms, 2), "requests": self.requests,
                "non_2xx_3xx": self.non_2xx_3xx, "socket_errors": self.socket_errors,
                "server_cpu_us_per_request": round(self.server_cpu_us_per_request, 1),
                "wrk_cpu_us_per_request": round(self.wrk_cpu_us_per_request, 1), **(self.redis or {})}


def _cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


#: py-spy (PyPI, requirements-dev.txt): only samples holding the GIL, without pausing the process.
PY_SPY = "py-spy"
#: py-spy samples per second: a sample stands for 1/SPY_RATE_HZ s of the GIL held.
SPY_RATE_HZ = 250


def _spy(pids: list[int], profile: Path, duration_s: float) -> list[subprocess.Popen]:
    spy = shutil.which(PY_SPY) or str(Path(sys.executable).with_name(PY_SPY))
    return [subprocess.Popen([spy, "record", "--gil", "--nonblocking", "-r", str(SPY_RATE_HZ), "-d", str(max(1, round(duration_s))), "-f", "raw",
                              "-o", f"{profile}-{pid}.txt", "-p", str(pid)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for pid in pids]


def run_timed(argv: list[str], timeout_s: float) -> tuple[int, str, str, float]:
    """Run ``argv`` to its end (killed after ``timeout_s``): (exit code, stdout, stderr, its CPU
    seconds, user + system, from the rusage wait4 returns for that one child)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=os.environ)
        killer = threading.Timer(timeout_s, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it
        finally:
            killer.cancel()
            if proc.returncode is None:  # interrupted while waiting
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                usage.ru_utime + usage.ru_stime)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run(base_url: str, paths: list[str], server_pids: list[int], *, duration_s: float = 5.0, threads: int = 2,
        connections: int = 64, method: str = "GET", user_id_prefix: str = "", profile: Path | None = None,
        redis: rediscost.RedisCost | None = None) -> WrkResult:
    """Load ``base_url`` with wrk walking ``paths`` in turn (each thread its own share).
    ``user_id_prefix``: send ``X-User-Id: <prefix><thread>-<n>``, a new user per request.
    Server CPU per request is read from /proc for ``server_pids`` around the run, wrk's own
    from its rusage. ``redis``: the Redis the servers use; its CPU and commands per request are
    read around the run too (bench.rediscost).
    ``profile``: py-spy samples each server process meanwhile into ``<profile>-<pid>.txt``
    (raw collapsed stacks for bench.spytop; the samples cost the servers some CPU), and the
    run's figures into ``<profile>.json`` (requests, sampling rate: what spytop's per-request
    microseconds are computed from)."""
    with tempfile.TemporaryDirectory(prefix="wrk-") as tmp:
        paths_file = Path(tmp) / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "walk.lua"
        script.write_text(_LUA % {"method": method, "header_prefix": user_id_prefix, "paths_file": paths_file,
                                  "threads": threads})
        argv = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--latency", "-s", str(script), base_url]
        spies = _spy(server_pids, profile, duration_s) if profile is not None else []
        before = _cpu_s(server_pids)
        redis_before = redis.read() if redis is not None else None
        code, out, err, wrk_cpu_s = run_timed(argv, duration_s + 60)
        redis_after = redis.read() if redis is not None else None
        cpu_s = _cpu_s(server_pids) - before
        for spy in spies:
            _, spy_err = spy.communicate(timeout=30)
            if spy.returncode:  # say so: a missing profile otherwise shows up only as spytop's missing file
                print(f"py-spy failed ({spy.returncode}): {spy_err.decode(errors='replace').strip()}", file=sys.stderr)
    if code != 0 or not _RATE.search(out):
        raise RuntimeError(f"wrk failed ({code}): {err.strip() or out.strip()}")
    total = _TOTAL.search(out)
    requests = int(total.group(1)) if total else 0
    p99 = _P99.search(out)
    errors = _ERRORS.search(out)
    non2xx = _NON2XX.search(out)
    result = WrkResult(
        requests=requests, rps=float(_RATE.search(out).group(1)),
        p99_ms=_ms(p99.group(1), p99.group(2)) if p99 else 0.0,
        non_2xx_3xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        server_cpu_us_per_request=cpu_s / max(1, requests) * 1e6,
        wrk_cpu_us_per_request=wrk_cpu_s / max(1, requests) * 1e6,
        redis=None if redis_before is None else rediscost.per_request(redis_before, redis_after, requests),
    )
    if profile is not None:
        Path(f"{profile}.json").write_text(json.dumps({"requests": requests, "rate_hz": SPY_RATE_HZ,
                                                      "server_cpu_us_per_request": result.server_cpu_us_per_request,
                                                      "pids": server_pids}))
    return result


def command_line(threads: int = 2, connections: int = 64, duration_s: float = 5.0) -> str:
    """The wrk invocation every measurement uses (printed with the figures)."""
    return f"wrk -t{threads} -c{connections} -d{max(1, round(duration_s))}s --latency -s <generated walk.lua> URL"


def load_average() -> str:
    """/proc/loadavg as it reads now (every benchmark prints it before and after)."""
    return Path("/proc/loadavg").read_text().strip()


@dataclass
class Deployment:
    """A benchmark's own deployment: a fresh folder with a SQLite database, a Redis key prefix
    of its own, and the server processes the benchmark starts (``servers``)."""

    workdir: Path
    database_url: str
    settings: Settings
    redis: Any
    keys: Keys
    servers: list[subprocess.Popen] = field(default_factory=list)


@contextlib.contextmanager
def deployment(name: str, env: dict[str, str] | None = None) -> Iterator[Deployment]:
    """A throwaway deployment named ``name`` with settings from ``env`` (default os.environ;
    it makes up its own secrets where none are given). On the way out, failure or not, its
    servers are stopped, every key under its prefix is unlinked and Redis closed; then the load
    average and the folder of its logs are printed."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    own = {"SECRET_KEY": secrets.token_urlsafe(32), "ADMIN_TOKEN": secrets.token_urlsafe(24)}
    settings = Settings.from_env({**own, **(os.environ if env is None else env),
                                  "REDIS_PREFIX": f"bench_{name}_{uuid.uuid4().hex[:8]}:", "DATABASE_URL": database_url})
    bind_database(open_database(database_url))
    create_schema()
    redis = connect_sync(settings.redis_url)
    deployed = Deployment(workdir, database_url, settings, redis, Keys(settings.redis_prefix))
    try:
        yield deployed
    finally:
        stop_all(deployed.servers)
        try:
            for name_ in redis.scan_iter(match=settings.redis_prefix + "*", count=5000):
                redis.unlink(name_)
        finally:
            redis.close()
        print(f"load after: {load_average()}")
        print(f"logs: {workdir}")
