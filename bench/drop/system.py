"""The system under test, started the way operators run it: several web processes sharing
one port (REUSE_PORT), several dramatiq worker processes, one scheduler, after ``init-db``.

``System.start()`` provisions the data stores (see bench.drop.infra), starts every process
with the same environment and waits for ``/health?deep=1``; ``stop()`` undoes all of it, and
makes a start or a health wait still running in another thread give up.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.baseline import free_port
from bench.drop.infra import Database, RedisServer, provision_database
from bench.drop.procs import Service, restart_dead
from models.settings import ROOT

log = logging.getLogger("bench.drop")

#: How long the system may take to become healthy, in seconds.
STARTUP_TIMEOUT_S = 90.0
#: How long each process gets after SIGTERM before SIGKILL when a run ends (a web process may take
#: its whole graceful period); an interrupted run (Ctrl-C) verifies nothing and gives them
#: INTERRUPTED_GRACE_S: a dramatiq worker whose consumers wait out their 3 s reconnect backoff
#: (after a chaos Redis restart) held Ctrl-C up for 4-5 s.
STOP_GRACE_S = 15.0
INTERRUPTED_GRACE_S = 1.0
#: Settings of every drop's processes: warnings only, and no rate limit (the simulated fans are
#: many users behind a few addresses).
QUIET_AND_UNLIMITED = {"LOG_FORMAT": "json", "LOG_LEVEL": "WARNING", "RATE_JOIN_PER_MIN": "0", "RATE_RESERVE_PER_MIN": "0",
                       "RATE_CHECKOUT_PER_MIN": "0", "RATE_PER_IP_PER_MIN": "0"}


@dataclass
class SystemOptions:
    run_dir: Path
    run_id: str
    web_processes: int = 2
    worker_processes: int = 2
    worker_threads: int = 8
    database_url: str | None = None
    postgres_url: str | None = "postgres://postgres@127.0.0.1:5432/postgres"
    redis_url: str | None = None
    broker_url: str | None = None
    #: Settings for every process (WAVE_SIZE, HOLD_TTL_S...), as environment strings.
    settings_env: dict[str, str] = field(default_factory=dict)


def add_process_arguments(parser, *, web: int, workers: int, threads: int = 8) -> None:
    """``--web``, ``--workers`` and ``--threads`` (the processes a System starts) on an argparse parser or group."""
    parser.add_argument("--web", type=int, default=web, help="web processes (sharing one port)")
    parser.add_argument("--workers", type=int, default=workers, help="dramatiq worker processes")
    parser.add_argument("--threads", type=int, default=threads, help="threads per worker process")


class System:
    def __init__(self, opts: SystemOptions) -> None:
        self.opts = opts
        self.port = free_port()
        self.admin_token = secrets.token_urlsafe(24)
        self.prefix = f"drop{opts.run_id[-8:]}:"
        self.database: Database | None = None
        self.redis: RedisServer | None = None
        self.redis_url = opts.redis_url or ""
        self.env: dict[str, str] = {}
        self.webs: list[Service] = []
        self.workers: list[Service] = []
        self.scheduler: Service | None = None
        #: Set by ``stop()`` (or by a caller about to stop): ``start()`` starts no process after it
        #: and ``wait_healthy()`` gives up, so a thread still in either ends within a poll.
        self.stopping = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def services(self) -> list[Service]:
        return [*self.webs, *self.workers, *([self.scheduler] if self.scheduler else [])]

    @property
    def metrics_dirs(self) -> list[Path]:
        """Where the web processes write their Prometheus multiprocess files (bench.drop.servertimes)."""
        return [self.opts.run_dir / "metrics"]

    @property
    def owns_redis(self) -> bool:
        return self.redis is not None

    def start(self) -> None:
        """Provision, migrate, start every process, wait until healthy; raises RuntimeError if not."""
        o = self.opts
        self.database = provision_database(o.database_url, o.postgres_url, o.run_dir, o.run_id)
        if not self.redis_url:
            self.redis = RedisServer(o.run_dir)
            self.redis.start()
            self.redis_url = self.redis.url
        self.env = self._environment()
        self.cli("init-db")
        logs = o.run_dir / "logs"
        py = sys.executable
        self.scheduler = Service("scheduler", [py, "-m", "scheduler"], self.env, logs / "scheduler.log", ROOT)
        self.workers = [
            Service(f"worker-{i}", [py, "-m", "workers", "--processes", "1", "--threads",
                                    str(o.worker_threads), "--worker-fork-timeout", "1000"],  # as the Procfile runs it
                    self.env, logs / f"worker-{i}.log", ROOT)
            for i in range(o.worker_processes)
        ]
        self.webs = [Service(f"web-{i}", [py, "-m", "web"], self.env, logs / f"web-{i}.log", ROOT) for i in range(o.web_processes)]
        self._not_stopping()
        for svc in self.services:
            svc.start()
        self.wait_healthy(deep=True)

    def _environment(self) -> dict[str, str]:
        o = self.opts
        env = dict(os.environ)
        env.setdefault("dramatiq_worker_timeout", "100")  # as the Procfile sets it
        metrics = o.run_dir / "metrics"
        metrics.mkdir(parents=True, exist_ok=True)
        env.update({
            "PYTHONPATH": str(ROOT),
            "PYTHONFAULTHANDLER": "1",
            "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
            "DATABASE_URL": self.database.url,
            "REDIS_URL": self.redis_url,
            "BROKER_URL": o.broker_url or self.redis_url,
            "REDIS_PREFIX": self.prefix,
            "ADMIN_TOKEN": self.admin_token,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "REUSE_PORT": "true",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            **QUIET_AND_UNLIMITED,
            "LOG_LEVEL": os.environ.get("DROP_LOG_LEVEL", "WARNING"),
        })
        env.update(o.settings_env)
        return env

    def cli(self, *args: str, timeout_s: float = 120.0) -> str:
        """Run ``python -m ticketdrop ARGS`` with the system's settings; returns its output."""
        done = subprocess.run([sys.executable, "-m", "ticketdrop", *args], env=self.env, cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"ticketdrop {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout

    def health(self, deep: bool = False) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/health{'?deep=1' if deep else ''}", timeout=5) as resp:
                return resp.status == 200
        except OSError:
            return False

    def _not_stopping(self) -> None:
        if self.stopping.is_set():
            raise RuntimeError("the system is being stopped")

    def wait_healthy(self, deep: bool = False, timeout_s: float = STARTUP_TIMEOUT_S) -> float:
        """Block until /health answers 200; returns the seconds waited. Raises RuntimeError on
        timeout, or once the system is being stopped (its processes will not answer again)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            self._not_stopping()
            dead = [s.name for s in self.services if s.supervised and not s.alive]
            if dead and time.monotonic() - started > 5:
                restart_dead(self.services)
            if self.health(deep):
                return time.monotonic() - started
            self.stopping.wait(0.2)
        raise RuntimeError(f"the system did not become healthy in {timeout_s} s; logs in {self.opts.run_dir / 'logs'}")

    def supervise(self) -> list[str]:
        """Restart processes that died (what honcho/systemd do for operators)."""
        return restart_dead(self.services)

    def stop_processes(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop every process, all at once (a web process may take its whole grace period)."""
        from concurrent.futures import ThreadPoolExecutor

        services = self.services
        if services:
            with ThreadPoolExecutor(max_workers=len(services)) as pool:
                list(pool.map(lambda svc: svc.stop(grace_s, stacks=grace_s >= STOP_GRACE_S), services))

    def drop_keys(self) -> int:
        """Delete every key of this run from a shared Redis (room buckets and holds carry TTLs of
        days: a run used to leave about 1,300 behind); returns how many."""
        from models.redis import connect_sync, delete_prefixed

        try:
            client = connect_sync(self.redis_url, socket_connect_timeout=3)
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the run's result
            log.warning("could not connect to Redis to remove the run's keys: %s", exc)
            return 0
        removed = 0
        try:
            removed = delete_prefixed(client, self.prefix)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not remove the run's keys under %s: %s", self.prefix, exc)
        finally:
            client.close()
        return removed

    def stop(self, *, keep_database: bool = False, grace_s: float = STOP_GRACE_S) -> None:
        """Stop every process (SIGKILL after ``grace_s``), Redis we own (or our keys on a shared one),
        and drop the database we created (unless kept: then the keys stay too, to be inspected)."""
        self.stopping.set()
        self.stop_processes(grace_s)
        if self.redis is not None:
            self.redis.stop()
        elif self.redis_url and not keep_database:
            self.drop_keys()
        if self.database is not None and not keep_database:
            try:
                self.database.drop()
            except Exception as exc:  # noqa: BLE001 - cleanup must not hide the run's result
                log.warning("could not drop %s: %s", self.database.url, exc)
