"""``python -m workers`` writes every line as JSON under LOG_FORMAT=json, Dramatiq's own lines
included: its supervisor's start-up, the signal it forwards, its worker process's boot and shutdown."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import uuid

import orjson

from models.settings import ROOT

READY = "Worker process is ready for action."
#: Longest wait for a line before the test gives up on a worker that hangs (not a timing assertion).
HANG_S = 120


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def test_every_line_a_worker_writes_on_stderr_is_json_dramatiqs_supervisor_lines_included():
    env = {**os.environ, "BROKER_URL": "stub://", "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG",
           "REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}:"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # single-process metrics: no files written anywhere
    proc = subprocess.Popen([sys.executable, "-m", "workers", "--processes", "1", "--threads", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        while not any(READY in line for line in seen):
            line = lines.get(timeout=HANG_S)
            assert line is not None, f"the worker exited before it was ready: {seen}"
            seen.append(line)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=HANG_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=HANG_S)
    while (line := lines.get_nowait()) is not None:
        seen.append(line)

    records = [orjson.loads(line) for line in seen]  # every line, or the test fails here naming it
    events = {(r["logger"], r["event"]) for r in records}
    assert ("dramatiq.MainProcess", "Sending signal 'SIGTERM' to subprocesses...") in events
    assert any(logger == "dramatiq.MainProcess" and event.endswith("is booting up.") for logger, event in events)
    assert ("dramatiq.WorkerProcess(0)", READY) in events
    assert ("dramatiq.worker.Worker", "Worker has been shut down.") in events
    assert {r["process"] for r in records} == {"worker"}
