import asyncio
import time

from bench.drop.client import Api, Recorder
from bench.loadgen import make_session
from tests.unit.bench.fake_api import FakeDrop


async def test_a_waitlisted_fans_poll_takes_a_connection_of_its_own_not_a_waiting_fans(aiohttp_server):
    server = await aiohttp_server(FakeDrop().app())
    session = make_session(4)
    api = Api(session, str(server.make_url("/")), Recorder(time.monotonic()), limit=2, poll_limit=1, waitlist_limit=1,
              deadline=time.monotonic() + 10)
    try:
        async with api.poll_slots:  # every status-poll connection is busy
            # A poll waiting for a status-poll slot would wait for ever: the timeout only turns that
            # hang into a failure, so it is generous (a stalled machine must not fail the test).
            reply = await asyncio.wait_for(api.call("waitlist_poll", "GET", "/me/waitlist", user="fan-1", waitlist=True), 60)
    finally:
        await session.close()
    assert reply.status == 200
    assert len(api.slot_wait["waitlist"].samples) == 1 and len(api.slot_wait["poll"].samples) == 0
