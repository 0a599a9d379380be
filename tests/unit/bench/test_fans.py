import random

from bench.drop.client import Api, Recorder
from bench.drop.fans import Crowd, Fan, Plan
from bench.drop.invariants import FINAL_FAN_OUTCOMES
from bench.loadgen import make_session
from tests.unit.bench.fake_api import FakeDrop
from tests.unit.bench.virtual_clock import VirtualClock


async def _crowd(aiohttp_server, drop: FakeDrop, fans: int, **plan) -> tuple[list[Fan], Api]:
    """``fans`` fans' visits to ``drop`` to the end, on the drop's VirtualClock: the same story
    however fast the machine runs, or if it stops for a while."""
    server = await aiohttp_server(drop.app())
    session = make_session(32)
    clock = drop.clock
    api = Api(session, str(server.make_url("/")), Recorder(clock.monotonic(), clock=clock), limit=32,
              deadline=clock.monotonic() + 30)
    crowd = Crowd(api, drop.event_id, Plan(**{"poll_s": 0.02, "poll_max_s": 0.05, "sold_out_grace_s": 0.2, "nothing_left_grace_s": 0.2,
                                         "waitlist_poll_s": 0.05, "waitlist_patience_s": 0.5, **plan}),
                  rng=random.Random(3))
    people = [Fan(i, f"fan-{i}") for i in range(fans)]
    crowd.add(people)
    try:
        await clock.run(*(crowd.run(f) for f in people))
    finally:
        await session.close()
    return people, api


def _drop(**kwargs) -> FakeDrop:
    return FakeDrop(clock=VirtualClock(), **kwargs)


async def test_every_fan_ends_in_a_final_state_and_buyers_hold_their_tickets(aiohttp_server):
    drop = _drop(capacity=30)
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
    drop = _drop(capacity=200)
    fans, _ = await _crowd(aiohttp_server, drop, 40, fail_share=0.5, abandon_share=0.5)
    outcomes = [f.outcome for f in fans]
    assert "bought" not in outcomes
    assert outcomes.count("payment_failed") > 0 and outcomes.count("abandoned") > 0
    assert outcomes.count("payment_failed") + outcomes.count("abandoned") == 40


async def test_a_forgotten_token_makes_the_fan_join_again_and_503s_are_retried(aiohttp_server):
    drop = _drop(capacity=100, wave=1, wave_every_s=0.5)
    drop.forget = {"fan-0", "fan-1"}
    drop.unavailable = 5
    fans, api = await _crowd(aiohttp_server, drop, 3)
    assert [f.rejoins for f in fans[:2]] == [1, 1]
    assert all(f.outcome in FINAL_FAN_OUTCOMES for f in fans)
    assert api.retries >= 5
    assert sum(1 for s in api.recorder.endpoints["join"].status if s == 200) >= 2  # the rejoins


async def test_a_fan_refused_at_reservation_goes_back_to_the_queue_and_still_finishes(aiohttp_server):
    drop = _drop(capacity=100)
    drop.refuse = {"fan-1"}
    fans, _ = await _crowd(aiohttp_server, drop, 2, abandon_share=0.0, fail_share=0.0)
    assert fans[1].requeues == 1 and fans[1].rejoins == 1
    assert [f.outcome for f in fans] == ["bought", "bought"]


async def test_a_sold_out_fan_joins_the_waitlist_and_buys_the_offer_a_lapsed_hold_makes(aiohttp_server):
    drop = _drop(capacity=6, hold_ttl_s=0.6)
    fans, api = await _crowd(aiohttp_server, drop, 12, abandon_share=0.4, fail_share=0.0, max_quantity=1,
                             waitlist_share=1.0, waitlist_poll_s=0.05, waitlist_patience_s=3.0)
    assert {f.outcome for f in fans} <= FINAL_FAN_OUTCOMES, [(f.outcome, f.detail) for f in fans]
    from_waitlist = [f for f in fans if f.waitlist == "bought"]
    assert from_waitlist, [(f.outcome, f.waitlist, f.detail) for f in fans]
    for fan in from_waitlist:
        assert fan.outcome == "bought" and fan.tickets == fan.quantity == drop.tickets[fan.user_id]
    offers = [e for e in drop.waitlist.values() if e.get("reservation_id")]
    assert len(from_waitlist) == sum(e["status"] == "purchased" for e in offers)
    assert len(api.recorder.marks["waitlist_joined"]) == len(drop.waitlist)
    assert sum(f.tickets for f in fans) <= 6


async def test_a_fan_not_told_sold_out_never_joins_a_waitlist(aiohttp_server):
    drop = _drop(capacity=100)
    fans, _ = await _crowd(aiohttp_server, drop, 5, abandon_share=0.0, fail_share=0.0, waitlist_share=1.0)
    assert [f.outcome for f in fans] == ["bought"] * 5
    assert not drop.waitlist and all(f.waitlist == "" for f in fans)


async def test_waiting_fans_poll_the_shared_progress_and_read_their_own_status_when_their_place_comes(aiohttp_server):
    drop = _drop(capacity=100, wave=2, wave_every_s=0.3)
    fans, api = await _crowd(aiohttp_server, drop, 10, abandon_share=0.0, fail_share=0.0)
    assert [f.outcome for f in fans] == ["bought"] * 10
    # once at the start and once when the progress reached the place (twice if a wave raced the read)
    assert max(drop.status_reads.values()) <= 3, drop.status_reads
    assert len(api.recorder.endpoints["progress"].t) > sum(drop.status_reads.values())


async def test_pre_queue_fans_compute_their_place_from_the_draw_and_only_those_the_sale_reaches_read_it(aiohttp_server):
    # 120 fans drawn by HMAC(salt, token) after a second; waves of 10 every second, the progress
    # fresh for a second at the edge (as in a drop); 20 tickets.
    drop = _drop(capacity=20, wave=10, wave_every_s=1.0, draw_after_s=1.0)
    drop.progress_max_age_s = 1
    fans, api = await _crowd(aiohttp_server, drop, 120, abandon_share=0.0, fail_share=0.0, poll_s=0.05, poll_max_s=0.1)
    assert {f.outcome for f in fans} <= FINAL_FAN_OUTCOMES, [(f.outcome, f.detail) for f in fans]
    drawn = [f for f in fans if f.user_id in drop.prequeue]
    assert len(drawn) > 60
    # Nobody asked for their place when the draw came: only fans the admissions came near read
    # it, and the fans far back, whom the sale never reached, never read their status at all.
    never_read = [f for f in drawn if drop.status_reads[f.user_id] == 0]
    assert len(never_read) >= len(drawn) // 5, drop.status_reads
    assert min(drop.positions[f.user_id] for f in never_read) > max(f.admitted_position or 0 for f in fans)
    assert len(api.recorder.endpoints["fairness"].t) < len(drawn)  # one shared document, read through the edge
    for fan in fans:
        if fan.outcome == "bought":
            assert fan.position == fan.admitted_position == drop.positions[fan.user_id]
