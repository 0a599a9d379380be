import asyncio
import random
import time

from bench.drop.client import Api, Recorder
from bench.drop.fans import Crowd, Fan, Plan
from bench.drop.invariants import FINAL_FAN_OUTCOMES
from bench.loadgen import make_session
from tests.unit.bench.fake_api import FakeDrop


async def _crowd(aiohttp_server, drop: FakeDrop, fans: int, **plan) -> tuple[list[Fan], Api]:
    server = await aiohttp_server(drop.app())
    session = make_session(32)
    api = Api(session, str(server.make_url("/")), Recorder(time.monotonic()), limit=32, deadline=time.monotonic() + 30)
    crowd = Crowd(api, drop.event_id, Plan(**{"poll_s": 0.02, "poll_max_s": 0.05, "sold_out_grace_s": 0.2, "nothing_left_grace_s": 0.2, **plan}),
                  rng=random.Random(3))
    people = [Fan(i, f"fan-{i}") for i in range(fans)]
    crowd.add(people)
    try:
        await asyncio.wait_for(asyncio.gather(*(crowd.run(f) for f in people)), 20)
    finally:
        await session.close()
    return people, api


async def test_every_fan_ends_in_a_final_state_and_buyers_hold_their_tickets(aiohttp_server):
    drop = FakeDrop(capacity=30)
    fans, api = await _crowd(aiohttp_server, drop, 60)
    outcomes = {f.outcome for f in fans}
    assert outcomes <= FINAL_FAN_OUTCOMES, [(f.user_id, f.outcome, f.detail) for f in fans if f.outcome not in FINAL_FAN_OUTCOMES]
    assert "bought" in outcomes and outcomes & {"sold_out", "rejected"}
    for fan in fans:
        if fan.outcome == "bought":
            assert fan.tickets == fan.quantity == drop.tickets[fan.user_id]
    assert len(api.recorder.marks["joined"]) == 60
    assert set(api.recorder.endpoints) >= {"join", "status", "availability", "reserve", "checkout_session", "confirm", "tickets"}


async def test_shares_of_holders_fail_payment_and_abandon(aiohttp_server):
    drop = FakeDrop(capacity=200)
    fans, _ = await _crowd(aiohttp_server, drop, 40, fail_share=0.5, abandon_share=0.5)
    outcomes = [f.outcome for f in fans]
    assert "bought" not in outcomes
    assert outcomes.count("payment_failed") > 0 and outcomes.count("abandoned") > 0
    assert outcomes.count("payment_failed") + outcomes.count("abandoned") == 40


async def test_a_forgotten_token_makes_the_fan_join_again_and_503s_are_retried(aiohttp_server):
    drop = FakeDrop(capacity=100, wave=1, wave_every_s=0.5)
    drop.forget = {"fan-0", "fan-1"}
    drop.unavailable = 5
    fans, api = await _crowd(aiohttp_server, drop, 3)
    assert [f.rejoins for f in fans[:2]] == [1, 1]
    assert all(f.outcome in FINAL_FAN_OUTCOMES for f in fans)
    assert api.retries >= 5
    assert sum(1 for s in api.recorder.endpoints["join"].status if s == 200) >= 2  # the rejoins


async def test_a_fan_refused_at_reservation_goes_back_to_the_queue_and_still_finishes(aiohttp_server):
    drop = FakeDrop(capacity=100)
    drop.refuse = {"fan-1"}
    fans, _ = await _crowd(aiohttp_server, drop, 2, abandon_share=0.0, fail_share=0.0)
    assert fans[1].requeues == 1 and fans[1].rejoins == 1
    assert [f.outcome for f in fans] == ["bought", "bought"]
