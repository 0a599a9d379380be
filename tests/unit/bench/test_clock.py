import asyncio
import time

from bench.drop.client import Api, Recorder
from bench.drop.clock import REAL_CLOCK
from bench.drop.fans import Crowd, Plan
from bench.drop.progress import SharedProgress
from bench.loadgen import make_session


def test_the_real_clock_is_the_standard_library_itself():
    # so a real drop does exactly what it did before the clock could be injected
    assert REAL_CLOCK.monotonic is time.monotonic
    assert REAL_CLOCK.time is time.time
    assert REAL_CLOCK.sleep is asyncio.sleep


async def test_a_drop_built_without_a_clock_keeps_the_real_one_everywhere():
    session = make_session(2)
    try:
        api = Api(session, "http://127.0.0.1:9", Recorder(time.monotonic()), limit=2, deadline=time.monotonic() + 1)
        crowd = Crowd(api, "event", Plan())
    finally:
        await session.close()
    assert api.clock is crowd.clock is REAL_CLOCK
    assert isinstance(crowd.progress, SharedProgress) and crowd.progress._clock is REAL_CLOCK
