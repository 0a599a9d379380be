"""The worker process type as the Procfile runs it: a worker process killed while it boots makes
its Dramatiq master exit within seconds (for the supervisor to start it again), not after the
master's 30 s default wait for workers to report ready (the chaos drop lost 30 s of workers at a
time this way on a busy machine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from models.settings import ROOT

pytestmark = pytest.mark.integration

#: The master must be gone well before Dramatiq's default --worker-fork-timeout (30 s).
EXIT_WITHIN_S = 15


def _procfile_command(kind: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == kind:
            return command.strip()
    raise AssertionError(f"no {kind} in the Procfile")


def _booting_worker(master: psutil.Process, timeout_s: float = 30.0) -> psutil.Process:
    """The first Dramatiq worker process the master (``python -m workers``) forks, found before it
    reports ready."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        for child in master.children(recursive=True):
            try:
                if " -m workers" in " ".join(child.parent().cmdline()):
                    return child
            except psutil.Error:
                continue
        time.sleep(0.005)
    raise AssertionError("the worker process never started")


def test_a_worker_killed_while_it_boots_makes_the_procfile_worker_exit_within_seconds(settings, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHON": sys.executable,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'boot.db'}", "REDIS_URL": settings.redis_url,
           "REDIS_PREFIX": settings.redis_prefix, "BROKER_URL": "stub://", "ADMIN_TOKEN": settings.admin_token,
           "SECRET_KEY": settings.secret_key, "WORKER_PROCESSES": "1", "WORKER_THREADS": "2"}
    with open(tmp_path / "worker.log", "wb") as log:
        proc = subprocess.Popen(["bash", "-c", _procfile_command("worker")], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        os.kill(_booting_worker(psutil.Process(proc.pid)).pid, signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(timeout=EXIT_WITHIN_S)
        assert time.monotonic() - killed < EXIT_WITHIN_S
        assert proc.returncode != 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
