"""Ctrl-C in the terminal (SIGINT to pytest's whole process group) while a browser test runs is an
interruption: pytest's status 2, no TargetClosedError from Playwright, no process left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from tests.e2e.conftest import CHROMIUM, ROOT, require

#: The longest wait for the inner run to have a page open (the system and Chromium start first).
START_TIMEOUT_S = 90


def _browser_running(run: psutil.Process) -> bool:
    try:
        return any("chrom" in p.name() for p in run.children(recursive=True))
    except psutil.Error:
        return False


def test_ctrl_c_during_a_browser_test_interrupts_the_run_without_a_playwright_error(tmp_path):
    require("Chromium", lambda: os.path.exists(CHROMIUM))
    # The inner run needs no default SIGINT handling from us: a new session, as a terminal's job.
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests/e2e/test_waiting_room.py"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    inner = psutil.Process(run.pid)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _browser_running(inner):
            assert run.poll() is None, run.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "the inner run never started Chromium"
            time.sleep(0.2)
        time.sleep(2)  # the test is on its page
        family = inner.children(recursive=True)
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C in the terminal
        output = run.communicate(timeout=60)[0].decode(errors="replace")
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 2, output
    assert "KeyboardInterrupt" in output and "TargetClosedError" not in output, output
    _, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, f"left running: {alive}"
