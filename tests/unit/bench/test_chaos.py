"""The chaos drop kills workers seen running (their threads started) an interval before, never
one still booting."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from bench.drop.chaos import Chaos, ChaosPlan
from bench.drop.client import Recorder


class FakeService:
    def __init__(self, name: str, pids: list[int]) -> None:
        self.name, self.pids = name, pids

    def children(self) -> list[int]:
        return self.pids

    @property
    def alive(self) -> bool:
        return True


class FakeSystem:
    def __init__(self, workers: list[FakeService]) -> None:
        self.workers = workers


def _chaos(workers: list[FakeService], kill_every_s: float) -> Chaos:
    return Chaos(FakeSystem(workers), ChaosPlan(kill_every_s=kill_every_s), Recorder(time.monotonic()), "event", 1,
                 running_threads=3)


def _sleeper(threads: int = 1) -> subprocess.Popen:
    """A stand-in worker process: 1 thread while it "boots", 3 once its worker threads run."""
    code = ("import threading, time\n"
            f"for _ in range({threads - 1}): threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
            "time.sleep(30)")
    return subprocess.Popen([sys.executable, "-c", code])


def _wait_threads(proc: subprocess.Popen, n: int) -> None:
    import psutil

    end = time.monotonic() + 10
    while psutil.Process(proc.pid).num_threads() < n:
        assert time.monotonic() < end, "the stand-in worker never started its threads"
        time.sleep(0.01)


def _ticks(chaos: Chaos, kill_every_s: float, ticks: int, during=None) -> None:
    """Run the killer for ``ticks`` intervals; ``during()`` runs half an interval in."""
    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(chaos._kill_workers(stop))
        await asyncio.sleep(kill_every_s / 2)
        if during is not None:
            during()
        await asyncio.sleep(kill_every_s * (ticks - 0.5) + 0.3)
        stop.set()
        task.cancel()  # as Chaos.run ends its faults
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())


def test_a_worker_is_killed_an_interval_after_it_was_seen_running_and_one_still_booting_is_spared():
    running = _sleeper(threads=3)
    _wait_threads(running, 3)
    booting: list[subprocess.Popen] = []
    workers = [FakeService("worker-0", []), FakeService("worker-1", [running.pid])]
    chaos = _chaos(workers, kill_every_s=1.0)

    def restart_worker_0() -> None:  # up for seconds by the end, but never started its threads
        booting.append(_sleeper(threads=1))
        workers[0].pids = [booting[0].pid]

    try:
        _ticks(chaos, 1.0, 3, restart_worker_0)
        assert chaos.kills == 1  # seen running at the first tick, killed at the second
        assert chaos.events[0][1:] == ("worker_killed", f"worker-1 pid {running.pid}")
        assert running.wait(timeout=5) == -9
        assert booting[0].poll() is None
        assert chaos.kills_skipped == 2  # the first tick (only seen) and the third (only booting)
    finally:
        for proc in (running, *booting):
            proc.kill()
            proc.wait()
