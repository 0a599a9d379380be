"""The audit kept running (issue 12): schemathesis over /openapi.json against the real web and
worker processes on PostgreSQL and Redis, with seeded events, every check (server errors,
response schemas, documented statuses, content types and headers, schema-valid requests taken
and schema-invalid ones refused, missing headers, methods, auth) and the stateful phase, on a
fixed seed and a small example budget (tests/integration/schemathesis.toml). About a minute on a
2-core machine; docs/testing.md shows how to run it alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bench.drop.procs import stop_all
from models.settings import ROOT

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Seconds the web process gets to answer, and the whole run to finish.
START_TIMEOUT_S, RUN_TIMEOUT_S = 60, 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.3)


@pytest.fixture
def system(settings, db, redis, tmp_path):
    """web + worker on the test's database and Redis prefix, with the sample events seeded."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "REDIS_PREFIX": settings.redis_prefix, "BROKER_URL": settings.redis_url, "ADMIN_TOKEN": settings.admin_token,
           "SECRET_KEY": settings.secret_key, "PORT": str(port), "HOST": "127.0.0.1", "LOG_FORMAT": "json",
           "LOG_LEVEL": "INFO", "ACTOR_MAX_RETRIES": "0",
           # Rate limits off, so the requests reach the logic behind them: one address and a few
           # generated user ids would spend them in seconds. Their 429s are documented, and
           # tests/unit/web/test_openapi_contract.py proves it.
           "RATE_JOIN_PER_MIN": "0", "RATE_RESERVE_PER_MIN": "0", "RATE_CHECKOUT_PER_MIN": "0",
           "RATE_PER_IP_PER_MIN": "0", "RATE_UNKNOWN_EVENT_PER_MIN": "0"}
    subprocess.run([sys.executable, "-m", "ticketdrop", "seed"], cwd=ROOT, env=env, check=True, capture_output=True)
    logs = {name: tmp_path / f"{name}.log" for name in ("web", "worker")}
    files = {name: open(path, "wb") for name, path in logs.items()}  # noqa: SIM115 - closed below
    procs = [
        subprocess.Popen([sys.executable, "-m", "web"], cwd=ROOT, env=env, stdout=files["web"], stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "workers", "--processes", "1", "--threads", "2"], cwd=ROOT,
                         env=env, stdout=files["worker"], stderr=subprocess.STDOUT),
    ]
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/health")
        yield base, logs
    finally:
        stop_all(procs, timeout_s=20)
        for f in files.values():
            f.close()


def test_schemathesis_finds_no_server_error_schema_violation_or_undocumented_status(system, settings, tmp_path):
    base, logs = system
    env = {**os.environ, "TD_BASE_URL": base, "TD_ADMIN_TOKEN": settings.admin_token}
    run = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(CONFIG), "run", f"{base}/openapi.json",
         "--no-color"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    report = run.stdout[-20000:] + run.stderr[-2000:]
    print(run.stdout[-1500:])  # the summary: phases, test cases generated, seed, time
    assert run.returncode == 0, report
    assert "Stateful" in run.stdout and "unique failures" not in run.stdout, report
    web_log = logs["web"].read_text()
    assert "unhandled error" not in web_log, web_log[-5000:]
