"""Waiting-room HTTP routes: join, status, fairness proof."""

from __future__ import annotations

import bisect
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from models.tables import Event, TicketTier
from models.waiting_room import admit_waves
from tests import factories
from web import snapshots
from web.appkeys import WAITING_ROOM

SEED_FIELDS = {"state", "onSaleAt", "secondsUntilOnSale", "position", "total", "canEnter", "etaSeconds"}


#: A scheduled event going on sale in an hour, starting a week later.
make_event = partial(factories.make_event, status="scheduled", on_sale_in_s=3600)


def fresh(client, event: Event) -> None:
    """Forget this process's cached snapshot and room view (the tests change them under it)."""
    snapshots.invalidate(client.app, event.id)
    client.app[WAITING_ROOM].rooms.forget(str(event.id))


async def join(client, event: Event, user: str | None = None):
    headers = {"X-User-Id": user} if user else {}
    resp = await client.post(f"/events/{event.id}/waiting-room/join", headers=headers)
    return resp, await resp.json()


async def status(client, event: Event, token: str):
    resp = await client.get(f"/events/{event.id}/waiting-room/status", params={"token": token})
    return resp, await resp.json()


# -- join -----------------------------------------------------------------------------------

async def test_joining_twice_with_the_same_user_id_returns_the_same_token_and_place(client, db):
    event = make_event()
    first, body = await join(client, event, "fan-1")
    assert first.status == 201
    assert body["prequeue"] is True and body["position"] is None and body["state"] == "waiting"
    again, body2 = await join(client, event, "fan-1")
    assert again.status == 200
    assert body2["token"] == body["token"]


async def test_joins_without_a_user_id_each_get_their_own_token(client, db):
    event = make_event(on_sale_in_s=-5)
    tokens = set()
    for _ in range(3):
        resp, body = await join(client, event)
        assert resp.status == 201
        tokens.add(body["token"])
    assert len(tokens) == 3


async def test_after_on_sale_fans_join_first_come_first_served(client, db):
    event = make_event(on_sale_in_s=-5)
    positions = [(await join(client, event, f"fan-{i}"))[1]["position"] for i in range(3)]
    assert positions == [1, 2, 3]


@pytest.mark.parametrize("case", ["unknown", "draft", "malformed"])
async def test_joining_an_unknown_or_draft_event_is_404(client, db, case):
    path = {"unknown": "/events/4f1d2c3b-0000-4000-8000-000000000000", "draft": f"/events/{make_event(status='draft').id}",
            "malformed": "/events/not-a-uuid"}[case]
    resp = await client.post(f"{path}/waiting-room/join", headers={"X-User-Id": "fan-1"})
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"


@pytest.mark.parametrize("event_status", ["closed", "canceled"])
async def test_joining_a_closed_or_canceled_event_is_409_saying_why(client, db, event_status):
    event = make_event(status=event_status)
    resp, body = await join(client, event, "fan-1")
    assert resp.status == 409
    assert (body["code"], body["reason"]) == ("event_not_on_sale", event_status)


async def test_joining_a_sold_out_event_is_409_sold_out(client, db, redis, keys):
    event = make_event(on_sale_in_s=-5)
    tier = TicketTier.create(event=event, name="Floor", price_cents=100, capacity=1)
    redis.hset(keys.stock(str(event.id)), mapping={str(tier.id): 0, f"held:{tier.id}": 0})
    resp, body = await join(client, event, "fan-1")
    assert resp.status == 409
    assert body["code"] == "sold_out"


async def test_a_malformed_user_id_is_400_naming_the_header(client, db):
    event = make_event()
    resp = await client.post(f"/events/{event.id}/waiting-room/join", headers={"X-User-Id": "has space"})
    assert resp.status == 400
    assert (await resp.json())["errors"][0]["field"] == "header.X-User-Id"


# -- status ---------------------------------------------------------------------------------

async def test_status_before_on_sale_keeps_the_seed_fields_and_says_waiting(client, db):
    event = make_event(on_sale_in_s=120)
    _, joined = await join(client, event, "fan-1")
    fresh(client, event)
    resp, body = await status(client, event, joined["token"])
    assert resp.status == 200
    assert SEED_FIELDS <= set(body)
    assert body["state"] == "waiting" and 115 <= body["secondsUntilOnSale"] <= 120
    assert (body["canEnter"], body["admission"], body["total"]) == (False, "queued", 1)
    assert body["onSaleAt"].endswith("Z")


async def test_after_a_wave_an_admitted_fan_may_enter_and_the_next_one_waits_with_an_eta(client, db, runtime):
    event = make_event(on_sale_in_s=-1, wave_size=1)
    _, first = await join(client, event, "fan-1")
    _, second = await join(client, event, "fan-2")
    assert admit_waves(runtime) == 1
    fresh(client, event)
    _, admitted = await status(client, event, first["token"])
    assert (admitted["state"], admitted["admission"], admitted["canEnter"], admitted["etaSeconds"]) == (
        "sale_open", "admitted", True, 0)
    assert admitted["admissionExpiresAt"].endswith("Z")
    _, waiting = await status(client, event, second["token"])
    assert (waiting["position"], waiting["aheadOfYou"], waiting["canEnter"]) == (2, 0, False)
    assert 0 <= waiting["etaSeconds"] <= 5


async def test_a_paused_sale_says_paused_and_nobody_may_enter(client, db, runtime):
    event = make_event(on_sale_in_s=-1)
    _, joined = await join(client, event, "fan-1")
    admit_waves(runtime)
    Event.update(paused=True).where(Event.id == event.id).execute()
    fresh(client, event)
    _, body = await status(client, event, joined["token"])
    assert (body["state"], body["canEnter"]) == ("paused", False)


async def test_status_without_a_token_is_400_naming_it(client, db):
    event = make_event()
    resp = await client.get(f"/events/{event.id}/waiting-room/status")
    assert resp.status == 400
    assert (await resp.json())["errors"][0]["field"] == "query.token"


@pytest.mark.parametrize("case", ["other_event", "garbage", "never_joined"])
async def test_status_for_a_token_of_another_event_or_an_unknown_token_is_404(client, db, settings, case):
    from models.waiting_room import tokens

    event, other = make_event(), make_event()
    _, joined = await join(client, other, "fan-1")
    token = {"other_event": joined["token"], "garbage": "x" * 44,
             "never_joined": tokens.issue(settings.secret_bytes, str(event.id), "nobody").text}[case]
    resp, body = await status(client, event, token)
    assert resp.status == 404
    assert body["errors"][0]["field"] == "query.token"


# -- fairness -------------------------------------------------------------------------------

async def test_the_salt_stays_secret_until_the_draw_and_then_matches_the_commitment(client, db, runtime):
    event = make_event(on_sale_in_s=3600)
    await join(client, event, "fan-1")
    before = await (await client.get(f"/events/{event.id}/waiting-room/fairness")).json()
    assert before["salt"] is None and len(before["commitment"]) == 64
    Event.update(on_sale_at=datetime.now(UTC) - timedelta(seconds=1)).where(Event.id == event.id).execute()
    admit_waves(runtime)
    after = await (await client.get(f"/events/{event.id}/waiting-room/fairness")).json()
    assert after["commitment"] == before["commitment"]
    assert hashlib.sha256(bytes.fromhex(after["salt"])).hexdigest() == after["commitment"]
    assert after["prequeue_size"] == 1 and after["revealed_at"].endswith("Z")


async def test_a_fan_verifies_their_drawn_position_over_http(client, db, runtime):
    event = make_event(on_sale_in_s=3600)
    joined = [(await join(client, event, f"fan-{i}"))[1]["token"] for i in range(12)]
    Event.update(on_sale_at=datetime.now(UTC) - timedelta(seconds=1), paused=True).where(Event.id == event.id).execute()
    admit_waves(runtime)
    fresh(client, event)
    fair = await (await client.get(f"/events/{event.id}/waiting-room/fairness")).json()
    page = await (await client.get(f"/events/{event.id}/waiting-room/fairness/hmacs", params={"limit": 5, "offset": 5})).json()
    assert (page["total"], page["offset"], len(page["hmacs"])) == (12, 5, 5)
    everything = await (await client.get(f"/events/{event.id}/waiting-room/fairness/hmacs")).json()
    listed = everything["hmacs"]
    assert listed[5:10] == page["hmacs"] and listed == sorted(listed)
    for token in joined:
        mine = hmac.new(bytes.fromhex(fair["salt"]), token.encode(), hashlib.sha256).hexdigest()
        _, body = await status(client, event, token)
        assert body["position"] == bisect.bisect_left(listed, mine) + 1


async def test_the_hmac_list_is_empty_before_the_draw_and_bad_paging_is_400(client, db):
    event = make_event()
    resp = await client.get(f"/events/{event.id}/waiting-room/fairness/hmacs")
    assert (await resp.json()) == {"offset": 0, "limit": 1000, "total": 0, "hmacs": []}
    bad = await client.get(f"/events/{event.id}/waiting-room/fairness/hmacs", params={"limit": 0})
    assert bad.status == 400
    assert (await bad.json())["errors"][0]["field"] == "query.limit"


async def test_fairness_of_a_draft_event_is_404(client, db):
    resp = await client.get(f"/events/{make_event(status='draft').id}/waiting-room/fairness")
    assert resp.status == 404


async def test_status_reads_the_token_among_other_or_escaped_query_parameters(client, db):
    event = make_event(on_sale_in_s=-5)
    _, joined = await join(client, event, "fan-1")
    escaped = joined["token"].replace("-", "%2D")
    for query in (f"token={joined['token']}&x=1", f"x=1&token={joined['token']}", f"token={escaped}"):
        resp = await client.get(f"/events/{event.id}/waiting-room/status?{query}")
        assert resp.status == 200, query
        assert (await resp.json())["position"] == 1


async def test_the_documented_verification_script_verifies_a_fans_place_against_a_live_server(client, db, runtime, tmp_path):
    import asyncio
    import re
    import sys
    from pathlib import Path

    section = (Path(__file__).resolve().parents[3] / "docs" / "internals" / "waiting-room.md").read_text()
    script = tmp_path / "verify_place.py"
    script.write_text(re.search(r"```python\n(.*?)```", section, re.S).group(1))
    event = make_event(on_sale_in_s=3600)
    joined = [(await join(client, event, f"fan-{i}"))[1]["token"] for i in range(5)]
    Event.update(on_sale_at=datetime.now(UTC) - timedelta(seconds=1)).where(Event.id == event.id).execute()
    admit_waves(runtime)
    fresh(client, event)
    base = str(client.make_url("")).rstrip("/")
    proc = await asyncio.create_subprocess_exec(sys.executable, str(script), base, str(event.id), joined[3],
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    _, status_doc = await status(client, event, joined[3])
    assert out.decode().strip() == f"verified: position {status_doc['position']} of 5 in the pre-queue"


# -- after a Redis data loss ----------------------------------------------------------------

async def test_while_a_lost_room_is_restored_fans_are_told_to_retry_and_then_find_their_place(client, db, runtime, redis, keys):
    event = make_event(on_sale_in_s=-5)
    _, first = await join(client, event, "fan-1")
    admit_waves(runtime)  # copies the join to the database (and admits it)
    for key in redis.scan_iter(match=f"{keys.prefix}*"):
        redis.delete(key)  # Redis restarted without persistence

    polled, problem = await status(client, event, first["token"])
    assert polled.status == 503 and polled.headers["Retry-After"] == "1"
    assert polled.content_type == "application/problem+json" and problem["reason"] == "room_restoring"
    rejoined, problem = await join(client, event, "fan-2")
    assert rejoined.status == 503 and problem["reason"] == "room_restoring"

    admit_waves(runtime)  # the wave tick restores the room
    fresh(client, event)
    polled, body = await status(client, event, first["token"])
    assert polled.status == 200 and (body["position"], body["canEnter"]) == (1, True)
    _, second = await join(client, event, "fan-2")
    assert second["position"] == 2


async def test_a_restored_room_names_a_new_generation_so_fans_read_their_place_again(client, db, runtime, redis, keys):
    event = make_event(on_sale_in_s=-5)
    _, first = await join(client, event, "fan-1")
    admit_waves(runtime)
    fresh(client, event)
    before = await (await client.get(f"/events/{event.id}/waiting-room/progress")).json()
    _, own = await status(client, event, first["token"])
    assert before["roomGeneration"] == own["roomGeneration"] > 0
    for key in redis.scan_iter(match=f"{keys.prefix}*"):
        redis.delete(key)  # Redis restarted without persistence

    admit_waves(runtime)  # the wave tick restores the room
    fresh(client, event)
    after = await (await client.get(f"/events/{event.id}/waiting-room/progress")).json()
    _, own = await status(client, event, first["token"])
    assert after["roomGeneration"] == own["roomGeneration"] != before["roomGeneration"]
