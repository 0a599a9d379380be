"""The chaos drop kills workers that have been up for an interval, never one still booting."""

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
    return Chaos(FakeSystem(workers), ChaosPlan(kill_every_s=kill_every_s), Recorder(time.monotonic()), "event", 1)


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])


def _one_tick(chaos: Chaos, kill_every_s: float, during=None) -> None:
    """Run the killer for one interval; ``during()`` runs half an interval in (a worker restarting)."""
    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(chaos._kill_workers(stop))
        await asyncio.sleep(kill_every_s / 2)
        if during is not None:
            during()
        await asyncio.sleep(kill_every_s / 2 + 0.3)
        stop.set()
        task.cancel()  # as Chaos.run ends its faults
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())


def test_a_worker_still_booting_is_spared_and_one_up_for_the_interval_is_killed():
    grown = _sleeper()
    booting: list[subprocess.Popen] = []
    workers = [FakeService("worker-0", []), FakeService("worker-1", [grown.pid])]
    chaos = _chaos(workers, kill_every_s=2.0)

    def restart_worker_0() -> None:
        booting.append(_sleeper())
        workers[0].pids = [booting[0].pid]

    try:
        _one_tick(chaos, 2.0, restart_worker_0)
        assert chaos.kills == 1 and chaos.kills_skipped == 0
        assert chaos.events[0][1:] == ("worker_killed", f"worker-1 pid {grown.pid}")
        assert grown.wait(timeout=5) == -9
        assert booting[0].poll() is None
    finally:
        for proc in (grown, *booting):
            proc.kill()
            proc.wait()


def test_a_tick_that_finds_every_worker_booting_kills_nothing_and_is_counted():
    booting: list[subprocess.Popen] = []
    workers = [FakeService("worker-0", [])]
    chaos = _chaos(workers, kill_every_s=2.0)

    def restart_worker_0() -> None:
        booting.append(_sleeper())
        workers[0].pids = [booting[0].pid]

    try:
        _one_tick(chaos, 2.0, restart_worker_0)
        assert (chaos.kills, chaos.kills_skipped) == (0, 1)
        assert booting[0].poll() is None
    finally:
        for proc in booting:
            proc.kill()
            proc.wait()
