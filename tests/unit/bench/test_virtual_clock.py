import asyncio
import time

import pytest

from tests.unit.bench.virtual_clock import START_MONOTONIC_S, START_UNIX_S, VirtualClock


async def test_run_moves_time_from_one_wake_up_to_the_next_and_answers_like_gather():
    clock = VirtualClock()
    woke = []

    async def sleeper(name, *naps):
        for nap in naps:
            await clock.sleep(nap)
            woke.append((name, clock.monotonic() - START_MONOTONIC_S))
        return name

    assert await clock.run(sleeper("a", 2.0, 1.0), sleeper("b", 0.5, 2.0)) == ["a", "b"]
    assert woke == [("b", 0.5), ("a", 2.0), ("b", 2.5), ("a", 3.0)]
    assert clock.time() - START_UNIX_S == clock.monotonic() - START_MONOTONIC_S == 3.0


async def test_time_stands_still_while_any_task_works_however_long_the_machine_takes():
    clock = VirtualClock()
    seen = []

    async def busy():
        await asyncio.sleep(0.05)  # real time: a request being served
        time.sleep(0.2)  # the process stalled (the event loop blocked)
        seen.append(clock.monotonic())

    async def waiter():
        await clock.sleep(0.01)
        seen.append(clock.monotonic())

    await clock.run(busy(), waiter())
    assert seen == [START_MONOTONIC_S, START_MONOTONIC_S + 0.01]


async def test_advance_wakes_the_sleepers_due_by_then_and_no_others():
    clock = VirtualClock()
    short = asyncio.ensure_future(clock.sleep(1.0))
    long = asyncio.ensure_future(clock.sleep(5.0))
    await asyncio.sleep(0)
    clock.advance(1.0)
    await asyncio.sleep(0)
    assert short.done() and not long.done()
    clock.advance(3.9)
    await asyncio.sleep(0)
    assert not long.done()
    long.cancel()
    with pytest.raises(ValueError):
        clock.advance(-1.0)


async def test_run_raises_the_first_failure_of_its_tasks():
    clock = VirtualClock()

    async def fails():
        await clock.sleep(1.0)
        raise RuntimeError("boom")

    async def outlives_it():
        await clock.sleep(3.0)

    with pytest.raises(RuntimeError, match="boom"):
        await clock.run(fails(), outlives_it())
