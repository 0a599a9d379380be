"""Real processes: a web process and a Dramatiq worker process share one metrics directory;
the web's /metrics shows the worker's actor metrics, and the worker logs JSON lines carrying the
request id of the web request that sent its message."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.drop.procs import stop_all
from models.settings import ROOT

pytestmark = pytest.mark.integration

#: How long the processes get to start and answer, in seconds.
START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def system(settings, db, redis, tmp_path):
    """web + worker (+ their log files), on the test's PostgreSQL database and Redis prefix."""
    port = _free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "REDIS_PREFIX": settings.redis_prefix, "BROKER_URL": settings.redis_url, "ADMIN_TOKEN": settings.admin_token,
           "SECRET_KEY": settings.secret_key, "PORT": str(port), "HOST": "127.0.0.1", "LOG_FORMAT": "json",
           "LOG_LEVEL": "DEBUG", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "ACTOR_MAX_RETRIES": "0"}
    logs = {name: open(tmp_path / f"{name}.log", "wb") for name in ("web", "worker")}  # noqa: SIM115
    procs = [
        subprocess.Popen([sys.executable, "-m", "web"], cwd=ROOT, env=env, stdout=logs["web"], stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "workers", "--processes", "1", "--threads", "2"], cwd=ROOT, env=env,
                         stdout=logs["worker"], stderr=subprocess.STDOUT),
    ]
    try:
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        stop_all(procs, timeout_s=20)
        for f in logs.values():
            f.close()


def _json_lines(path: Path) -> list[dict]:
    out = []
    for raw in path.read_bytes().splitlines():
        try:
            out.append(orjson.loads(raw))
        except orjson.JSONDecodeError:
            pass
    return out


def test_the_web_metrics_include_the_worker_process_and_its_logs_carry_the_request_id(system):
    base, logs = system
    deadline = time.monotonic() + START_TIMEOUT_S
    status = 0
    while time.monotonic() < deadline:  # the worker answers the deep health check once it is up
        try:
            status, _ = _get(f"{base}/health?deep=1", {"X-Request-Id": "ops-proc-1"})
        except OSError:
            status = 0
        if status == 200:
            break
        time.sleep(0.5)
    assert status == 200, (logs / "web.log").read_text()[-2000:] + (logs / "worker.log").read_text()[-2000:]

    status, body = _get(f"{base}/metrics")
    assert status == 200
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(body.decode()) for s in f.samples}
    assert samples[("ticketdrop_actor_duration_seconds_count", (("actor", "echo"),))] >= 1
    assert any(name == "ticketdrop_http_request_duration_seconds_count" and ("route", "/health") in labels
               for name, labels in samples)

    worker = [line for line in _json_lines(logs / "worker.log") if line.get("event") == "actor finished"]
    assert any(line["actor"] == "echo" and line["request_id"] == "ops-proc-1" and line["process"] == "worker" for line in worker)
