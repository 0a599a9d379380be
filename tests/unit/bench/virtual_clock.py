"""A clock for the drop simulator's unit tests: time moves only when the test moves it.

The fans, their client, the simulated edge and the fake API (tests/unit/bench/fake_api.py)
all read one :class:`VirtualClock` (bench.drop.clock). Its time stands still while anything
runs, so a machine that is slow, loaded or stopped (SIGSTOP) changes nothing a test sees:

- :meth:`VirtualClock.run` runs coroutines (a crowd of fans) to the end and moves time on
  only when every one of them waits for the clock, to the first wake-up due; a fan's HTTP
  request to the fake API takes no time at all, however long the machine takes to serve it.
- :meth:`VirtualClock.advance` moves it on by hand, for tests that stage a moment themselves.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable

from bench.drop.clock import Clock

#: Where the clocks start: monotonic seconds, and Unix seconds (2027-01-15, after every on-sale
#: time the fake API answers, so no fan counts down to a sale that is already open).
START_MONOTONIC_S = 1_000.0
START_UNIX_S = 1_800_000_000.0


class VirtualClock(Clock):
    """``monotonic()``, ``time()`` and ``await sleep(seconds)`` on simulated time."""

    def __init__(self, monotonic_s: float = START_MONOTONIC_S, unix_s: float = START_UNIX_S) -> None:
        self._now = monotonic_s
        self._unix_offset = unix_s - monotonic_s
        #: Sleepers as (due, sequence, future, task): the sequence keeps equal times in call order.
        self._due: list[tuple[float, int, asyncio.Future, asyncio.Task | None]] = []
        self._seq = itertools.count()
        #: Tasks waiting for the clock (a woken one leaves at once, before it runs again).
        self._asleep: set[asyncio.Task] = set()
        self._changed: asyncio.Event | None = None

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now + self._unix_offset

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has moved on ``seconds`` (only a yield when ``seconds <= 0``)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future = asyncio.get_running_loop().create_future()
        task = asyncio.current_task()
        heapq.heappush(self._due, (self._now + seconds, next(self._seq), future, task))
        self._asleep.add(task)
        if self._changed is not None:
            self._changed.set()
        try:
            await future
        finally:
            self._asleep.discard(task)

    def advance(self, seconds: float) -> None:
        """Move time on by ``seconds`` and wake every sleeper due by then (they run at the
        test's next await). Raises ValueError for a negative step: time does not go back."""
        if seconds < 0:
            raise ValueError("the clock does not go back")
        self._wake_until(self._now + seconds)

    async def run(self, *aws: Awaitable, hang_guard_s: float = 120.0) -> list:
        """Run ``aws`` concurrently to the end, like ``asyncio.gather``, moving time on only when
        each of them is done or waits for the clock: then to the first wake-up due.

        ``hang_guard_s`` is real time and only stops a test that would hang (none of them
        waits for the clock, and nothing comes back). Raises TimeoutError then, or the first
        exception of ``aws``. Returns their results in order.
        """
        tasks = [asyncio.ensure_future(aw) for aw in aws]
        changed = self._changed = asyncio.Event()
        for task in tasks:
            task.add_done_callback(lambda _: changed.set())
        try:
            async with asyncio.timeout(hang_guard_s):
                while not all(task.done() for task in tasks):
                    await changed.wait()
                    changed.clear()
                    if self._due and all(task.done() or task in self._asleep for task in tasks):
                        self._wake_until(self._due[0][0])
            return await asyncio.gather(*tasks)
        finally:
            self._changed = None
            for task in tasks:
                task.cancel()

    def _wake_until(self, t: float) -> None:
        self._now = max(self._now, t)
        while self._due and self._due[0][0] <= self._now:
            _, _, future, task = heapq.heappop(self._due)
            self._asleep.discard(task)
            if not future.done():
                future.set_result(None)
