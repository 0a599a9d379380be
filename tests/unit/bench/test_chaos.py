"""The chaos drop kills workers seen running (their threads started) an interval before, never
one still booting. Its ticks keep a VirtualClock: which tick sees what does not depend on how
fast the machine runs (a stalled test process once lost the last tick)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Callable

from bench.drop.chaos import Chaos, ChaosPlan
from bench.drop.client import Recorder
from tests.unit.bench.virtual_clock import VirtualClock


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
    clock = VirtualClock()
    return Chaos(FakeSystem(workers), ChaosPlan(kill_every_s=kill_every_s), Recorder(clock.monotonic(), clock=clock),
                 "event", 1, running_threads=3)


def _sleeper(threads: int = 1) -> subprocess.Popen:
    """A stand-in worker process: 1 thread while it "boots", 3 once its worker threads run."""
    code = ("import threading, time\n"
            f"for _ in range({threads - 1}): threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
            "time.sleep(30)")
    return subprocess.Popen([sys.executable, "-c", code])


def _wait_threads(proc: subprocess.Popen, n: int) -> None:
    import psutil

    end = time.monotonic() + 60  # only a hang guard
    while psutil.Process(proc.pid).num_threads() < n:
        assert time.monotonic() < end, "the stand-in worker never started its threads"
        time.sleep(0.01)


def _ticks(chaos: Chaos, kill_every_s: float, ticks: int, between: dict[int, Callable[[], object]]) -> None:
    """Run the killer for ``ticks`` intervals on its clock; ``between[n]()`` runs half an interval
    after tick ``n`` (0: the start)."""
    clock = chaos.recorder.clock

    async def run() -> None:
        stop = asyncio.Event()

        async def killer() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                await chaos._kill_workers(stop)

        killing = asyncio.ensure_future(killer())

        async def meanwhile() -> None:
            await clock.sleep(kill_every_s / 2)
            for tick in range(ticks):
                if tick in between:
                    between[tick]()
                await clock.sleep(kill_every_s)
            stop.set()
            killing.cancel()  # as Chaos.run ends its faults

        await clock.run(killing, meanwhile())

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
        # the killed worker is gone before the next tick, as a second later in a drop
        _ticks(chaos, 1.0, 3, {0: restart_worker_0, 2: lambda: running.wait(timeout=60)})
        assert chaos.kills == 1  # seen running at the first tick, killed at the second
        assert chaos.events == [(2.0, "worker_killed", f"worker-1 pid {running.pid}")]
        assert running.wait(timeout=5) == -9
        assert booting[0].poll() is None
        assert chaos.kills_skipped == 2  # the first tick (only seen) and the third (only booting)
    finally:
        for proc in (running, *booting):
            proc.kill()
            proc.wait()
