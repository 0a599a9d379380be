"""OS processes the simulator owns: start, stop gracefully, SIGKILL, restart when they die.

Every process runs in its own session (so a signal reaches a dramatiq master and its
children together) and gets SIGTERM if the simulator itself dies (Linux PR_SET_PDEATHSIG),
so a crashed run leaves no servers behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("bench.drop")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def stop_all(procs: list[subprocess.Popen], timeout_s: float = 15.0) -> None:
    """Terminate ``procs`` (SIGTERM, then SIGKILL after ``timeout_s``) and reap them."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Service:
    """One command line we run, restart and kill; output goes to ``log_path``."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path
    proc: subprocess.Popen | None = None
    #: Deliberate restarts and crash restarts, as (monotonic time, reason).
    restarts: list[tuple[float, str]] = field(default_factory=list)
    #: False while we stop it on purpose, so the supervisor leaves it alone.
    supervised: bool = True

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            out.close()
        self.supervised = True

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout_s: float = 15.0, *, stacks: bool = True) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout_s``; waits for the exit. With
        ``stacks``, one that outlives ``timeout_s`` first writes its threads' stacks (2 s more)."""
        self.supervised = False
        if self.proc is None:
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            if not stacks:
                self.signal_group(signal.SIGKILL)
                self.proc.wait(timeout=10)
                return
            log.warning("%s ignored SIGTERM for %s s; its stacks go to %s", self.name, timeout_s, self.log_path)
            self.signal_group(signal.SIGABRT)  # PYTHONFAULTHANDLER=1: every thread's stack into the log
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Children that outlived their parent (a dramatiq worker mid-task) go too.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def children(self) -> list[int]:
        """PIDs of the process's children (dramatiq's worker processes)."""
        if not self.alive:
            return []
        import psutil

        try:
            return [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.Error:
            return []


def restart_dead(services: list[Service]) -> list[str]:
    """Start again every supervised service whose process exited; returns their names.

    The simulator calls this about every 0.2 s: it plays the part of systemd/honcho with
    ``Restart=always``, which is how operators run the processes.
    """
    restarted = []
    for svc in services:
        if svc.supervised and svc.proc is not None and svc.proc.poll() is not None:
            code = svc.proc.returncode
            # A dramatiq master whose worker was killed is still stopping its other children.
            try:
                os.killpg(svc.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            svc.restarts.append((time.monotonic(), f"exited with {code}"))
            log.info("restarting %s (exited with %s)", svc.name, code)
            svc.start()
            restarted.append(svc.name)
    return restarted
