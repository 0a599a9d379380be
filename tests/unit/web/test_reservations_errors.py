"""Every way a reservation request is refused at once, before anything is queued."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from models.tables import Event, utcnow
from tests.factories import admitted
from tests.unit.models.test_reservations_support import make_event, make_paid_order, make_tier
from web.snapshots import invalidate


@pytest.fixture
async def api(aiohttp_client, app):
    return await aiohttp_client(app)


@pytest.fixture
async def sale(api, runtime):
    """An on-sale event with one tier (per-user limit 4) and ann admitted."""
    event = make_event()
    tier = make_tier(event, capacity=20, per_user_limit=4)
    (token,) = await admitted(api, runtime, event, "ann")
    return event, tier, token


def body(tier, token, **overrides):
    return {"tier_id": str(tier.id), "quantity": 1, "token": token, **overrides}


async def post(api, event_id, payload, user="ann", **kwargs):
    headers = {"X-User-Id": user} if user else {}
    return await api.post(f"/events/{event_id}/reservations", json=payload, headers=headers, **kwargs)


async def problem(resp, status):
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    return await resp.json()


def fields(doc):
    return [e["field"] for e in doc.get("errors", [])]


@pytest.fixture(autouse=True)
def nothing_queued(runtime):
    yield
    assert not runtime.redis.keys(f"{runtime.keys.prefix}ev:*:mailbox"), "a refused request was queued"


async def test_a_missing_user_header_is_400_naming_it(api, sale):
    event, tier, token = sale
    doc = await problem(await post(api, event.id, body(tier, token), user=None), 400)
    assert fields(doc) == ["header.X-User-Id"]


async def test_a_malformed_json_body_is_400(api, sale):
    event, _, _ = sale
    resp = await api.post(f"/events/{event.id}/reservations", data=b"{not json", headers={
        "X-User-Id": "ann", "Content-Type": "application/json"})
    assert fields(await problem(resp, 400)) == ["body"]


@pytest.mark.parametrize("change, field", [
    ({"tier_id": None}, "tier_id"),
    ({"tier_id": "not-a-uuid"}, "tier_id"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": "2"}, "quantity"),
    ({"quantity": True}, "quantity"),
    ({"token": ""}, "token"),
    ({"seats": ["A1"]}, "seats"),
])
async def test_a_malformed_field_is_422_naming_it(api, sale, change, field):
    event, tier, token = sale
    payload = {k: v for k, v in {**body(tier, token), **change}.items() if v is not None}
    assert fields(await problem(await post(api, event.id, payload), 422)) == [field]


async def test_an_unknown_or_draft_event_is_404(api, sale):
    _, tier, token = sale
    draft = make_event(status="draft")
    for event_id in (uuid.uuid4(), draft.id):
        await problem(await post(api, event_id, body(tier, token)), 404)


async def test_an_unknown_tier_or_another_events_tier_is_404_naming_tier_id(api, sale):
    event, _, token = sale
    other_tier = make_tier(make_event(name="Other"))
    for tier_id in (uuid.uuid4(), other_tier.id):
        doc = await problem(await post(api, event.id, {"tier_id": str(tier_id), "quantity": 1, "token": token}), 404)
        assert fields(doc) == ["tier_id"]


async def test_an_unknown_token_is_403_token_invalid(api, sale):
    event, tier, _ = sale
    doc = await problem(await post(api, event.id, body(tier, "x" * 44)), 403)
    assert doc["reason"] == "token_invalid"


async def test_another_events_token_is_403_token_invalid(api, runtime, sale):
    event, tier, _ = sale
    other = make_event(name="Other")
    make_tier(other)
    (foreign,) = await admitted(api, runtime, other, "ann")
    doc = await problem(await post(api, event.id, body(tier, foreign)), 403)
    assert doc["reason"] == "token_invalid"


async def test_another_users_token_is_403_token_invalid(api, sale):
    event, tier, token = sale
    doc = await problem(await post(api, event.id, body(tier, token), user="mallory"), 403)
    assert doc["reason"] == "token_invalid"


async def test_a_token_not_admitted_yet_is_403_not_admitted(api, sale):
    event, tier, _ = sale
    resp = await api.post(f"/events/{event.id}/waiting-room/join", headers={"X-User-Id": "bob"})
    token = (await resp.json())["token"]
    doc = await problem(await post(api, event.id, body(tier, token), user="bob"), 403)
    assert doc["reason"] == "not_admitted"


async def test_an_admission_whose_window_lapsed_is_403_admission_expired(api, runtime):
    from models.waiting_room import admit_waves

    event = make_event(on_sale_at=utcnow() - timedelta(hours=3))
    tier = make_tier(event)
    resp = await api.post(f"/events/{event.id}/waiting-room/join", headers={"X-User-Id": "ann"})
    token = (await resp.json())["token"]
    admit_waves(runtime, now_ms=int(time.time() * 1000) - (runtime.settings.admission_ttl_s + 60) * 1000)
    doc = await problem(await post(api, event.id, body(tier, token)), 403)
    assert doc["reason"] == "admission_expired"


async def test_a_paused_sale_is_409_event_paused(api, sale):
    event, tier, token = sale
    Event.update(paused=True).where(Event.id == event.id).execute()
    invalidate(api.server.app, event.id)
    doc = await problem(await post(api, event.id, body(tier, token)), 409)
    assert doc["code"] == "event_paused"


@pytest.mark.parametrize("status, on_sale_in", [("closed", -60), ("canceled", -60), ("scheduled", 3600)])
async def test_an_event_not_on_sale_is_409_event_not_on_sale(api, sale, status, on_sale_in):
    event, tier, token = sale
    Event.update(status=status, on_sale_at=utcnow() + timedelta(seconds=on_sale_in)).where(Event.id == event.id).execute()
    invalidate(api.server.app, event.id)
    doc = await problem(await post(api, event.id, body(tier, token)), 409)
    assert doc["code"] == "event_not_on_sale"


async def test_a_quantity_over_the_tiers_per_user_limit_is_422_naming_quantity(api, sale):
    event, tier, token = sale
    doc = await problem(await post(api, event.id, body(tier, token, quantity=5)), 422)
    assert fields(doc) == ["quantity"] and doc["per_user_limit"] == 4


async def test_a_fan_not_admitted_yet_asking_for_more_than_the_tier_allows_is_403_not_admitted(api, runtime, sale):
    event, tier, _ = sale
    resp = await api.post(f"/events/{event.id}/waiting-room/join", headers={"X-User-Id": "bob"})
    token = (await resp.json())["token"]
    doc = await problem(await post(api, event.id, body(tier, token, quantity=5), user="bob"), 403)
    assert doc["reason"] == "not_admitted"
    assert not runtime.redis.hgetall(runtime.keys.live_reservations(str(event.id)))


async def test_passing_the_per_event_purchase_limit_with_paid_orders_is_409_limit_exceeded(api, runtime, sale):
    event, tier, token = sale
    make_paid_order(tier, "ann", 4)
    from models.inventory import rebuild_counters

    rebuild_counters(runtime.redis, runtime.keys, str(event.id))
    doc = await problem(await post(api, event.id, body(tier, token, quantity=3)), 409)
    assert doc["code"] == "limit_exceeded" and doc["limit"] == 6 and doc["counted"] == 4
    resp = await post(api, event.id, body(tier, token, quantity=2))
    assert resp.status == 202
    runtime.redis.delete(runtime.keys.mailbox(str(event.id)))  # accepted on purpose; not a leak


async def test_a_request_lost_with_redis_before_its_decision_is_503_request_lost_not_404(api, sale, monkeypatch):
    from models.reservations import service

    async def lost_at_once(*args, **kwargs):  # accepted, then Redis died with the mailbox
        return "accepted", 0

    monkeypatch.setattr(service, "enqueue", lost_at_once)
    event, tier, token = sale
    resp = await api.post(f"/events/{event.id}/reservations", json=body(tier, token),
                          headers={"X-User-Id": "ann", "Prefer": "wait=1"})
    err = await problem(resp, 503)
    assert err["reason"] == "request_lost" and resp.headers["Retry-After"] == "1"
