"""Integration tests leave nothing on a shared Redis (issue 12, finding 15), even when they fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.drop.system import System, SystemOptions
from models.redis import connect_sync
from tests.integration.conftest import REDIS_URL, _pattern, _ping, require, test_prefix

ROOT = Path(__file__).resolve().parents[2]


def keys_under(prefix: str) -> list[str]:
    client = connect_sync(REDIS_URL)
    try:
        return list(client.scan_iter(match=_pattern(prefix), count=1000))
    finally:
        client.close()


def test_a_failing_test_leaves_no_key_of_its_own_or_of_its_processes(tmp_path):
    require("Redis", lambda: _ping(REDIS_URL))
    report = tmp_path / "prefixes"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/integration/leaky_case.py"],
                         cwd=ROOT, env={**os.environ, "LEAK_REPORT": str(report)}, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout[-2000:]  # the inner test failed, as it should
    test_keys, run_keys = report.read_text().split()
    assert keys_under(test_keys) == []
    assert keys_under(run_keys) == []


def test_a_drop_run_removes_its_keys_from_a_shared_redis(tmp_path):
    require("Redis", lambda: _ping(REDIS_URL))
    system = System(SystemOptions(run_dir=tmp_path, run_id="t" + test_prefix().strip(":")[-12:], redis_url=REDIS_URL))
    client = connect_sync(REDIS_URL)
    try:
        for i in range(1_300):
            client.set(f"{system.prefix}room:{{e}}:b:{i}", "1", ex=30 * 86400)
    finally:
        client.close()
    system.stop()
    assert keys_under(system.prefix) == []
