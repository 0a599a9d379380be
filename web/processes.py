"""``python -m web --processes N``: N web processes sharing one port.

The parent starts N children (``python -m web`` again, with REUSE_PORT=true) that all bind
HOST:PORT with SO_REUSEPORT, so the kernel spreads new connections over them; it forwards
SIGTERM/SIGINT to them (each drains its requests for up to 10 s), and starts a child again if
one dies (at most once per RESTART_DELAY_S). The parent itself serves nothing and opens no
client; it exits once the children have after a signal.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

log = logging.getLogger("ticketdrop.web")

#: Shortest wait before starting a child again after it died, in seconds.
RESTART_DELAY_S = 1.0
#: Longest wait for the children to exit after a signal, in seconds (their shutdown_timeout is 10 s).
STOP_TIMEOUT_S = 15.0


def supervise(processes: int) -> int:
    """Run ``processes`` web children until SIGTERM/SIGINT; returns the exit status."""
    env = {**os.environ, "REUSE_PORT": "true"}
    command = [sys.executable, "-m", "web"]
    children: dict[int, subprocess.Popen] = {}
    stopping = False

    def start(index: int) -> None:
        children[index] = subprocess.Popen(command, env=env)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for index in range(processes):
        start(index)
    log.info("web processes started", extra={"processes": processes, "pids": [c.pid for c in children.values()]})
    restarted_at = dict.fromkeys(children, 0.0)
    while not stopping:
        time.sleep(0.2)
        for index, child in list(children.items()):
            if child.poll() is not None and not stopping and time.monotonic() - restarted_at[index] >= RESTART_DELAY_S:
                log.error("web process died; starting it again", extra={"pid": child.pid, "exit_code": child.returncode})
                restarted_at[index] = time.monotonic()
                start(index)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0
