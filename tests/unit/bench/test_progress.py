import random
from datetime import UTC, datetime

import pytest

from bench.drop.client import Api, Recorder
from bench.drop.progress import (
    SharedProgress,
    edge_max_age,
    from_join,
    moved_on,
    needs_own_status,
    place_estimate,
    wants_place_estimate,
    with_place_estimate,
)
from bench.loadgen import make_session
from models.waiting_room.fairness import fairness_hmac
from tests.unit.bench.fake_api import FakeDrop
from tests.unit.bench.virtual_clock import VirtualClock

QUEUED = {"state": "sale_open", "position": 50, "admission": "queued", "aheadOfYou": 39, "total": 60, "etaSeconds": 9}
PROGRESS = {"state": "sale_open", "total": 80, "drawn": True, "admittedThrough": 20, "positionsPerMinute": 600.0}


def test_a_queued_fan_keeps_to_the_progress_until_it_reaches_their_place():
    assert not needs_own_status(QUEUED, PROGRESS)
    assert needs_own_status(QUEUED, {**PROGRESS, "admittedThrough": 50})


def test_an_admission_or_the_draw_sends_the_fan_to_their_own_status_and_a_change_of_state_does_not():
    assert needs_own_status({**QUEUED, "admission": "admitted"}, PROGRESS)
    assert not needs_own_status(QUEUED, {**PROGRESS, "state": "paused"})
    assert not needs_own_status(QUEUED, {**PROGRESS, "state": "sold_out"})
    prequeue = {**QUEUED, "state": "waiting", "position": None}
    assert not needs_own_status(prequeue, {**PROGRESS, "state": "sale_open", "drawn": False})
    assert needs_own_status(prequeue, {**PROGRESS, "state": "sale_open", "drawn": True})


def test_a_room_rebuilt_after_a_data_loss_sends_the_fan_to_their_own_status():
    # Its place may be gone (a join Redis lost) or given to someone else: only its status says.
    assert not needs_own_status({**QUEUED, "roomGeneration": 1}, {**PROGRESS, "roomGeneration": 1})
    assert needs_own_status({**QUEUED, "roomGeneration": 1}, {**PROGRESS, "roomGeneration": 2})


# -- a pre-queue fan's place, computed from the revealed draw ------------------------------------
#: The same vectors as tests/unit/frontend/room-progress.test.mjs: the page computes the same numbers.
SALT = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
TOKEN = "AQEjRWeJq83vASNFZ4mrze8BI0VniavN7wEjRWeJq83v"
PREQUEUE = {**QUEUED, "state": "sale_open", "position": None, "aheadOfYou": None, "etaSeconds": None}


def test_a_fans_expected_place_is_its_hmacs_share_of_the_draw_and_the_earliest_is_4_sqrt_p_before_it():
    assert place_estimate("8" + "0" * 63, 101) == (51, 10)  # half way; 4 * sqrt(101) = 40.2
    assert place_estimate("0" * 64, 1) == (1, 1)
    assert place_estimate("f" * 64, 10_000) == (9_999, 9_599)


def test_no_fan_of_a_real_draw_is_placed_before_its_earliest_place():
    rng = random.Random(11)
    salt = rng.randbytes(32)
    tokens = [rng.randbytes(33).hex() for _ in range(20_000)]
    ordered = sorted((fairness_hmac(salt, t), t) for t in tokens)  # the server's draw
    errors = []
    for position, (mac, _) in enumerate(ordered, start=1):
        expected, earliest = place_estimate(mac.hex(), len(tokens))
        assert earliest <= position, (position, expected, earliest)
        errors.append(abs(position - expected))
    assert max(errors) < 4 * len(tokens) ** 0.5 and sum(errors) / len(errors) < len(tokens) ** 0.5 / 2


def test_a_fan_computes_its_place_from_the_revealed_salt_and_its_own_token():
    mine = with_place_estimate(PREQUEUE, TOKEN, {"salt": SALT, "prequeue_size": 100_000})
    assert (mine["estimatedPosition"], mine["earliestPosition"]) == (46_597, 45_332)
    unrevealed = with_place_estimate(PREQUEUE, TOKEN, {"salt": None, "prequeue_size": None})
    assert (unrevealed["estimatedPosition"], unrevealed["earliestPosition"]) == (None, None)


def test_a_drawn_pre_queue_fan_computes_its_place_once():
    assert wants_place_estimate(PREQUEUE, PROGRESS)
    assert not wants_place_estimate(PREQUEUE, {**PROGRESS, "drawn": False})
    assert not wants_place_estimate({**PREQUEUE, "estimatedPosition": None, "earliestPosition": None}, PROGRESS)
    assert not wants_place_estimate(QUEUED, PROGRESS)


def test_a_pre_queue_fan_reads_its_status_only_when_the_admissions_reach_its_earliest_place():
    mine = {**PREQUEUE, "estimatedPosition": 400, "earliestPosition": 300}
    assert not needs_own_status(mine, {**PROGRESS, "admittedThrough": 299})
    assert needs_own_status(mine, {**PROGRESS, "admittedThrough": 300})
    # without an estimate (the draw was not revealed to it) it asks at once, as before
    assert needs_own_status({**PREQUEUE, "estimatedPosition": None, "earliestPosition": None}, PROGRESS)


def test_until_then_its_place_ahead_and_wait_count_from_the_estimate():
    now = moved_on({**PREQUEUE, "estimatedPosition": 400, "earliestPosition": 300}, PROGRESS)
    assert (now["position"], now["aheadOfYou"], now["etaSeconds"], now["total"]) == (None, 379, 38, 80)


def test_a_fans_first_status_is_its_joins_answer():
    joined = {"token": "t", "position": None, "total": 9, "state": "waiting", "onSaleAt": "2026-11-30T03:00:00Z",
              "prequeue": True, "roomGeneration": 7}
    first = from_join(joined, now_s=datetime(2026, 11, 30, 2, 59, 20, tzinfo=UTC).timestamp())
    assert first == {"state": "waiting", "position": None, "total": 9, "admission": "queued", "canEnter": False,
                     "secondsUntilOnSale": 40, "roomGeneration": 7}


def test_the_status_moved_on_by_the_progress_counts_the_place_ahead_and_the_eta_from_the_pace():
    now = moved_on(QUEUED, PROGRESS)
    assert (now["aheadOfYou"], now["total"], now["etaSeconds"]) == (29, 80, 3)  # 30 places at 10 a second
    assert now["position"] == 50 and now["admission"] == "queued"
    assert moved_on(QUEUED, {**PROGRESS, "positionsPerMinute": 0})["etaSeconds"] is None


def test_the_countdown_to_on_sale_runs_down_between_status_reads():
    prequeue = {**QUEUED, "state": "waiting", "position": None, "secondsUntilOnSale": 30}
    assert moved_on(prequeue, {**PROGRESS, "state": "waiting"}, elapsed_s=12.5)["secondsUntilOnSale"] == 18
    assert moved_on(prequeue, {**PROGRESS, "state": "waiting"}, elapsed_s=45)["secondsUntilOnSale"] == 0


# -- the simulated edge, on a VirtualClock: what a reader gets depends on when, never on how
# fast the machine serves the fake API (a stalled test process once timed out a lock) ---------
def _drop(**kwargs) -> FakeDrop:
    return FakeDrop(clock=VirtualClock(), **kwargs)


async def _api(aiohttp_server, drop: FakeDrop):
    server = await aiohttp_server(drop.app())
    session = make_session(8)
    clock = drop.clock
    return session, Api(session, str(server.make_url("/")), Recorder(clock.monotonic(), clock=clock), limit=8,
                        deadline=clock.monotonic() + 10)


def _slow_progress(api: Api, seconds: float) -> None:
    """The web tier takes ``seconds`` (on the api's clock) to answer each progress request."""
    call = api.call

    async def slow_call(endpoint, *args, **kwargs):
        if endpoint == "progress":
            await api.clock.sleep(seconds)
        return await call(endpoint, *args, **kwargs)

    api.call = slow_call


async def test_fans_reading_a_fresh_progress_share_one_request_as_behind_an_edge_cache(aiohttp_server):
    drop = _drop()
    drop.progress_max_age_s = 5
    session, api = await _api(aiohttp_server, drop)
    shared = SharedProgress(api, drop.event_id)
    try:
        replies = await drop.clock.run(*(shared.read() for _ in range(20)))
        replies.append(await shared.read())
    finally:
        await session.close()
    assert {r.status for r in replies} == {200}
    assert len(api.recorder.endpoints["progress"].t) == 1 and shared.edge_hits == 20


async def test_without_the_edge_cache_every_progress_poll_is_a_request(aiohttp_server):
    drop = _drop()
    drop.progress_max_age_s = 5
    session, api = await _api(aiohttp_server, drop)
    shared = SharedProgress(api, drop.event_id, edge=False)
    try:
        await drop.clock.run(*(shared.read() for _ in range(5)))
    finally:
        await session.close()
    assert len(api.recorder.endpoints["progress"].t) == 5 and shared.edge_hits == 0


# -- the simulated edge follows deploy/nginx/ticketdrop.conf's rules ---------------------------
def test_the_edge_keeps_what_nginx_keeps_for_its_max_age_and_nothing_else():
    assert edge_max_age({"Cache-Control": "public, max-age=1"}) == 1
    assert edge_max_age({"Cache-Control": "public, max-age=3600"}) == 3600
    assert edge_max_age({"Cache-Control": "public, max-age=0"}) == 0
    assert edge_max_age({"Cache-Control": "public, no-cache"}) == 0
    assert edge_max_age({"Cache-Control": "private, max-age=5"}) == 0
    assert edge_max_age({}) == 0


async def _edge(aiohttp_server, drop: FakeDrop):
    """(session, api, the edge, the clock) for ``drop``'s progress, fresh for a second."""
    drop.progress_max_age_s = 1
    session, api = await _api(aiohttp_server, drop)
    return session, api, SharedProgress(api, drop.event_id), drop.clock


async def test_an_expired_progress_is_served_stale_at_once_while_one_request_updates_it(aiohttp_server):
    drop = _drop()
    session, api, shared, clock = await _edge(aiohttp_server, drop)

    async def meanwhile():
        await clock.sleep(0.05)  # the update's request is on its way
        return [await shared.read() for _ in range(10)], clock.monotonic()

    try:
        first = await shared.read()
        clock.advance(2.0)  # past its max-age
        _slow_progress(api, 0.3)
        expired_at = clock.monotonic()
        updated, (stale, read_at) = await clock.run(shared.read(), meanwhile())
        updated_at = clock.monotonic()
        after = await shared.read()
    finally:
        await session.close()
    # they did not wait for it
    assert read_at - expired_at == pytest.approx(0.05) and updated_at - expired_at == pytest.approx(0.3)
    assert all(reply is first for reply in stale) and shared.stale_hits == 10
    assert updated.status == 200 and updated is not first and after is updated
    assert len(api.recorder.endpoints["progress"].t) == 2


async def test_an_expired_progress_is_revalidated_and_a_304_keeps_the_stored_answer(aiohttp_server):
    drop = _drop(wave_every_s=1000.0)  # the document does not change
    session, api, shared, clock = await _edge(aiohttp_server, drop)
    try:
        first = await shared.read()
        clock.advance(2.0)
        revalidated = await shared.read()
        fresh_again = await shared.read()
    finally:
        await session.close()
    assert revalidated is first and fresh_again is first and first.status == 200
    assert list(api.recorder.endpoints["progress"].status) == [200, 304]


async def _two_readers(aiohttp_server, fetch_s: float):
    """Two fans read a progress nothing is stored for yet, the second 50 ms after the first, while
    the web tier takes ``fetch_s`` to answer: (the edge, the api, the two replies)."""
    drop = _drop()
    drop.progress_max_age_s = 5
    session, api = await _api(aiohttp_server, drop)
    _slow_progress(api, fetch_s)
    shared = SharedProgress(api, drop.event_id)

    async def later():
        await drop.clock.sleep(0.05)
        return await shared.read()

    try:
        replies = await drop.clock.run(shared.read(), later())
    finally:
        await session.close()
    return shared, api, replies


async def test_readers_of_a_progress_not_stored_yet_wait_for_the_one_request_fetching_it(aiohttp_server):
    shared, api, (fetched, waited) = await _two_readers(aiohttp_server, fetch_s=0.2)
    assert waited is fetched and shared.lock_timeouts == 0
    assert len(api.recorder.endpoints["progress"].t) == 1


async def test_a_reader_waits_for_the_lock_one_second_at_most_then_asks_itself(aiohttp_server):
    shared, api, _ = await _two_readers(aiohttp_server, fetch_s=1.5)
    assert shared.lock_timeouts == 1 and len(api.recorder.endpoints["progress"].t) == 2


async def test_an_answer_nginx_does_not_store_goes_to_its_reader_only(aiohttp_server):
    drop = _drop()  # max-age=0: nginx does not cache it
    session, api = await _api(aiohttp_server, drop)
    shared = SharedProgress(api, drop.event_id)
    try:
        for _ in range(3):
            await shared.read()
    finally:
        await session.close()
    assert len(api.recorder.endpoints["progress"].t) == 3 and shared.edge_hits == 0
