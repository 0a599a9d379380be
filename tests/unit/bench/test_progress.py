import asyncio
import time
from datetime import UTC, datetime

from bench.drop.client import Api, Recorder
from bench.drop.progress import SharedProgress, from_join, moved_on, needs_own_status
from bench.loadgen import make_session
from tests.unit.bench.fake_api import FakeDrop

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


async def _api(aiohttp_server, drop: FakeDrop):
    server = await aiohttp_server(drop.app())
    session = make_session(8)
    return session, Api(session, str(server.make_url("/")), Recorder(time.monotonic()), limit=8, deadline=time.monotonic() + 10)


async def test_fans_reading_a_fresh_progress_share_one_request_as_behind_an_edge_cache(aiohttp_server):
    drop = FakeDrop()
    drop.progress_max_age_s = 5
    session, api = await _api(aiohttp_server, drop)
    shared = SharedProgress(api, drop.event_id)
    try:
        replies = await asyncio.gather(*(shared.read() for _ in range(20)))
        replies.append(await shared.read())
    finally:
        await session.close()
    assert {r.status for r in replies} == {200}
    assert len(api.recorder.endpoints["progress"].t) == 1 and shared.edge_hits == 20


async def test_without_the_edge_cache_every_progress_poll_is_a_request(aiohttp_server):
    drop = FakeDrop()
    drop.progress_max_age_s = 5
    session, api = await _api(aiohttp_server, drop)
    shared = SharedProgress(api, drop.event_id, edge=False)
    try:
        await asyncio.gather(*(shared.read() for _ in range(5)))
    finally:
        await session.close()
    assert len(api.recorder.endpoints["progress"].t) == 5 and shared.edge_hits == 0
