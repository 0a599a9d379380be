"""The pages' pure logic (time zones, chart labels, spoken warnings, queue updates), tested in
node's test runner: frontend/js is plain ES modules, so node imports the very files the browser
gets. Without node the test skips locally and fails when CI=true."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
#: Seconds node gets for the whole file set (it takes about 3 s here).
NODE_TIMEOUT_S = 120


def test_the_frontend_logic_passes_its_node_tests():
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is not installed; the frontend logic tests need it", pytrace=False)
        pytest.skip("node is not installed")
    files = sorted(str(p) for p in HERE.glob("*.test.mjs"))
    result = subprocess.run([node, "--test", *files], capture_output=True, text=True, timeout=NODE_TIMEOUT_S,
                            env={**os.environ, "TZ": "UTC", "LANG": "en_US.UTF-8"})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout
