"""The web tier's database threads: answers, errors, cancellation, shutdown."""

from __future__ import annotations

import asyncio
import threading

import pytest

from web.dbthreads import DbThreads


@pytest.fixture
def threads():
    pool = DbThreads(2, name="test-db")
    yield pool
    pool.shutdown()


async def test_a_call_runs_in_a_database_thread_and_answers_its_result(threads):
    name = await threads.submit(lambda a, b: (threading.current_thread().name, a + b), 2, 3)
    assert name[0].startswith("test-db_") and name[1] == 5


async def test_a_calls_exception_reaches_the_caller(threads):
    def boom():
        raise LookupError("no such row")

    with pytest.raises(LookupError, match="no such row"):
        await threads.submit(boom)


async def test_a_call_cancelled_before_a_thread_takes_it_does_not_run(threads):
    gate, ran = threading.Event(), []
    blockers = [threads.submit(gate.wait) for _ in range(2)]  # both threads busy
    late = threads.submit(ran.append, "late")
    late.cancel()
    gate.set()
    await asyncio.gather(*blockers)
    assert await threads.submit(lambda: "after") == "after"
    assert ran == []


async def test_a_call_cancelled_while_it_runs_finishes_without_disturbing_the_loop(threads):
    gate = threading.Event()
    running = threads.submit(gate.wait)
    await asyncio.sleep(0.01)
    running.cancel()
    gate.set()
    assert await threads.submit(lambda: 42) == 42


def test_shutdown_runs_the_queued_calls_then_stops_every_thread():
    pool, done = DbThreads(1, name="test-db"), []

    async def main():
        futures = [pool.submit(done.append, i) for i in range(3)]
        await asyncio.gather(*futures)

    asyncio.run(main())
    pool.shutdown()
    assert done == [0, 1, 2]
    assert not any(t.name.startswith("test-db_") and t.is_alive() for t in threading.enumerate())
