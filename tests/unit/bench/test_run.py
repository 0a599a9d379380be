"""The drop's configuration: the waitlist polls' pool sized from their expected rate; a drop
interrupted while its system starts, or while a process is slow to stop (bench/drop/run.py)."""

import asyncio
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from bench import baseline
from bench.drop.fans import Plan
from bench.drop.procs import Service
from bench.drop.run import DropConfig, run_drop, waitlist_connections
from bench.drop.system import STOP_GRACE_S, System


def test_the_waitlist_pool_carries_the_expected_polls_at_a_quarter_second_each():
    # 2,000 fans, half of them waitlisted, polling every 5 s: 200 polls/s x 0.25 s.
    assert waitlist_connections(2_000, Plan(waitlist_share=0.5, waitlist_poll_s=5.0)) == 50
    # Polling every second asks five times as many.
    assert waitlist_connections(2_000, Plan(waitlist_share=0.5, waitlist_poll_s=1.0)) == 250


def test_the_waitlist_pool_stays_between_32_and_512_connections():
    assert waitlist_connections(100, Plan(waitlist_share=0.5)) == 32
    assert waitlist_connections(1_000, Plan(waitlist_share=0.0)) == 32
    # 22,000 fans (a 20,000-fan drop and its late fans) ask ~2,200 polls/s: the cap carries ~2,000.
    assert waitlist_connections(22_000, Plan(waitlist_share=0.5)) == 512


def test_a_drop_sizes_its_waitlist_pool_from_all_its_fans_unless_told_a_size():
    assert DropConfig(fans=2_000).resolved().waitlist_connections == 55  # 2,200 fans with the late ones
    assert DropConfig(fans=2_000, waitlist_connections=16).resolved().waitlist_connections == 16


class _Booting(System):
    """A System whose start() is only its wait for health, with nothing answering: where a Ctrl-C
    finds a drop while its processes boot."""

    def __init__(self, opts) -> None:
        super().__init__(opts)
        self.waiting = threading.Event()
        self.start_ended = self.stop_began = None

    def start(self) -> None:
        self.waiting.set()
        try:
            self.wait_healthy(deep=True, timeout_s=20)
        finally:
            self.start_ended = time.monotonic()

    def stop(self, *, keep_database: bool = False, grace_s: float = STOP_GRACE_S) -> None:
        self.stop_began = time.monotonic()
        super().stop(keep_database=keep_database, grace_s=grace_s)


async def test_a_drop_cancelled_while_its_system_starts_ends_the_start_before_stopping_the_system(tmp_path, monkeypatch):
    async def no_baseline(*args, **kwargs):
        return SimpleNamespace(rps=1.0)

    monkeypatch.setattr(baseline, "measure", no_baseline)
    systems: list[_Booting] = []

    def booting(opts) -> _Booting:
        systems.append(_Booting(opts))
        return systems[0]

    drop = asyncio.create_task(run_drop(DropConfig(fans=10, out=tmp_path), make_system=booting))
    while not (systems and systems[0].waiting.is_set()):
        assert not drop.done(), drop
        await asyncio.sleep(0.01)
    cancelled = time.monotonic()
    drop.cancel()  # what asyncio.run does with a Ctrl-C
    with pytest.raises(asyncio.CancelledError):
        await drop
    system = systems[0]
    # A start left running would start processes beside stop() and hold asyncio.run until it timed out.
    assert system.start_ended is not None and system.stop_began is not None
    assert system.start_ended <= system.stop_began
    assert time.monotonic() - cancelled < 5


class _SlowToStop(_Booting):
    """A booting System with one process that takes 30 s to stop on SIGTERM (a dramatiq worker waiting
    out its consumers' reconnect backoff does the same for seconds)."""

    def start(self) -> None:
        code = "import signal, time; signal.signal(signal.SIGTERM, lambda *_: time.sleep(30)); print('up', flush=True); time.sleep(60)"
        self.workers = [Service("worker-0", [sys.executable, "-c", code], {}, self.opts.run_dir / "worker-0.log", self.opts.run_dir)]
        self.workers[0].start()
        while "up" not in (self.opts.run_dir / "worker-0.log").read_text():
            time.sleep(0.01)
        super().start()


async def test_a_drop_cancelled_by_ctrl_c_kills_processes_slow_to_stop_within_two_seconds(tmp_path, monkeypatch):
    async def no_baseline(*args, **kwargs):
        return SimpleNamespace(rps=1.0)

    monkeypatch.setattr(baseline, "measure", no_baseline)
    systems: list[_SlowToStop] = []

    def booting(opts) -> _SlowToStop:
        systems.append(_SlowToStop(opts))
        return systems[0]

    drop = asyncio.create_task(run_drop(DropConfig(fans=10, out=tmp_path), make_system=booting))
    while not (systems and systems[0].waiting.is_set()):
        assert not drop.done(), drop
        await asyncio.sleep(0.01)
    worker = systems[0].workers[0].proc
    cancelled = time.monotonic()
    drop.cancel()  # what asyncio.run does with a Ctrl-C
    try:
        with pytest.raises(asyncio.CancelledError):
            await drop
        # Nothing is verified after a Ctrl-C: a process still stopping is killed after a second.
        assert time.monotonic() - cancelled < 2.5
        assert worker.poll() is not None
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
