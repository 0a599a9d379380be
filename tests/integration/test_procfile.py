"""The operator's command, as docs/operators.md writes it, from a shell whose PATH does not
include the virtualenv: ``.venv/bin/honcho start -p PORT -c web=1,worker=1,scheduler=1`` with
``WEB_PROCESSES=2``. Every process comes up (two web processes on the one port, answering
``/health?deep=1``, which a worker must echo), and all stop on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from models.redis import connect_sync, delete_prefixed
from models.settings import ROOT
from tests.integration.conftest import REDIS_URL, require, test_prefix

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Longest wait for every process to come up, in seconds (a loaded CI box starts Python slowly).
START_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health?deep=1", timeout=5) as resp:
            return resp.status
    except OSError:
        return 0


@pytest.fixture
def deployment(tmp_path):
    require("Redis", lambda: connect_sync(REDIS_URL, socket_connect_timeout=3).ping())
    prefix = test_prefix()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'td.db'}", "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix,
           "ADMIN_TOKEN": uuid.uuid4().hex, "SECRET_KEY": uuid.uuid4().hex, "LOG_FORMAT": "console",
           "WEB_PROCESSES": "2"}
    subprocess.run([".venv/bin/python", "-m", "ticketdrop", "init-db"], cwd=ROOT, env=env, check=True, timeout=120)
    try:
        yield env
    finally:
        redis = connect_sync(REDIS_URL)
        delete_prefixed(redis, prefix)
        redis.close()


def test_the_procfile_runs_from_the_documented_command_with_two_web_processes_on_one_port(deployment, tmp_path):
    port = _free_port()
    log_path = tmp_path / "honcho.log"
    with open(log_path, "wb") as log:
        honcho = subprocess.Popen([".venv/bin/honcho", "start", "-p", str(port), "-c", "web=1,worker=1,scheduler=1"],
                                  cwd=ROOT, env=deployment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    listening: list[str] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while _health(port) != 200:
            assert honcho.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, f"/health?deep=1 never answered 200:\n{log_path.read_text()}"
            time.sleep(1)
        while "scheduler started" not in log_path.read_text():
            assert time.monotonic() < deadline, f"the scheduler never started:\n{log_path.read_text()}"
            time.sleep(0.5)
        # /health answers once one process listens; the other may log its line a moment later.
        while len(set(listening := re.findall(rf"web\.1 +\| .*web listening port={port} pid=(\d+) reuse_port=True",
                                              output := log_path.read_text()))) < 2:
            assert honcho.poll() is None and time.monotonic() < deadline, output
            time.sleep(0.2)
        assert len(set(listening)) == 2, output
        assert "not found" not in output and "exited with code" not in output, output
    finally:
        os.killpg(honcho.pid, signal.SIGINT)  # Ctrl-C in the operator's terminal
        honcho.wait(timeout=60)
    output = log_path.read_text()
    assert all(f"{name}.1 stopped" in output for name in ("web", "worker", "scheduler")), output
    assert not [pid for pid in listening if _alive(int(pid))], "a web process outlived its parent"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
