"""Reservations over HTTP: 202 and poll, Prefer: wait, one live reservation, release, availability."""

from __future__ import annotations

import uuid
from datetime import timedelta

from models.tables import Reservation, utcnow
from tests.factories import admitted
from tests.unit.models.test_reservations_support import make_event, make_tier

WAIT = {"Prefer": "wait=5"}


async def reserve(client, event, tier, user, token, quantity=1, headers=None):
    return await client.post(f"/events/{event.id}/reservations",
                             json={"tier_id": str(tier.id), "quantity": quantity, "token": token},
                             headers={"X-User-Id": user, **(headers or {})})


async def poll_until_decided(client, location, user):
    import asyncio

    for _ in range(200):
        resp = await client.get(location, headers={"X-User-Id": user})
        body = await resp.json()
        if body["status"] != "pending":
            return resp.status, body
        await asyncio.sleep(0.02)
    raise AssertionError(f"{location} still pending")


async def test_a_request_is_accepted_with_202_and_its_location_reads_held_once_decided(shop, runtime):
    event = make_event()
    tier = make_tier(event, capacity=10)
    (token,) = await admitted(shop, runtime, event, "ann")

    resp = await reserve(shop, event, tier, "ann", token, 2)

    assert resp.status == 202, await resp.text()
    body = await resp.json()
    assert body["status"] == "pending" and resp.headers["Location"] == f"/reservations/{body['id']}"
    status, decided = await poll_until_decided(shop, resp.headers["Location"], "ann")
    assert status == 200
    assert decided == {"id": body["id"], "event_id": str(event.id), "tier_id": str(tier.id), "quantity": 2,
                       "status": "held", "expires_at": decided["expires_at"], "reason": None}
    assert decided["expires_at"].endswith("Z")


async def test_prefer_wait_answers_201_with_the_hold_in_one_round_trip(shop, runtime):
    event = make_event()
    tier = make_tier(event)
    (token,) = await admitted(shop, runtime, event, "ann")
    resp = await reserve(shop, event, tier, "ann", token, 1, WAIT)
    assert resp.status == 201, await resp.text()
    assert resp.headers["Preference-Applied"] == "wait=5"
    body = await resp.json()
    assert body["status"] == "held" and resp.headers["Location"] == f"/reservations/{body['id']}"


async def test_prefer_wait_answers_409_with_the_reason_when_the_request_is_rejected(shop, runtime):
    event = make_event()
    tier = make_tier(event, capacity=2)
    ann, bob = await admitted(shop, runtime, event, "ann", "bob")
    assert (await reserve(shop, event, tier, "ann", ann, 2, WAIT)).status == 201
    resp = await reserve(shop, event, tier, "bob", bob, 1, WAIT)
    assert resp.status == 409
    problem = await resp.json()
    assert problem["code"] == "sold_out" and problem["reason"] == "sold_out"
    assert problem["reservation"]["status"] == "rejected"
    assert resp.headers["Location"] == f"/reservations/{problem['id']}"


async def test_a_second_request_returns_the_users_live_reservation_instead_of_a_new_one(shop, runtime):
    event = make_event()
    tier = make_tier(event)
    (token,) = await admitted(shop, runtime, event, "ann")
    first = await (await reserve(shop, event, tier, "ann", token, 1, WAIT)).json()
    resp = await reserve(shop, event, tier, "ann", token, 3, WAIT)
    assert resp.status == 200
    assert (await resp.json()) == first
    assert Reservation.select().count() == 1


async def test_a_fan_whose_request_was_rejected_may_ask_again(shop, runtime):
    event = make_event()
    small, big = make_tier(event, capacity=2), make_tier(event, name="Balcony", capacity=5)
    ann, bob = await admitted(shop, runtime, event, "ann", "bob")
    await reserve(shop, event, small, "ann", ann, 2, WAIT)
    assert (await reserve(shop, event, small, "bob", bob, 1, WAIT)).status == 409
    resp = await reserve(shop, event, big, "bob", bob, 2, WAIT)
    assert resp.status == 201, await resp.text()


async def test_availability_shows_capacity_minus_sold_and_live_holds(shop, runtime):
    event = make_event()
    tier = make_tier(event, capacity=10, price_cents=5_000)
    resp = await shop.get(f"/events/{event.id}/availability")
    assert resp.status == 200
    assert await resp.json() == {"event_id": str(event.id), "tiers": [
        {"tier_id": str(tier.id), "name": "Floor", "price_cents": 5_000, "capacity": 10, "per_user_limit": 4,
         "remaining": 10}]}
    (token,) = await admitted(shop, runtime, event, "ann")
    await reserve(shop, event, tier, "ann", token, 3, WAIT)
    body = await (await shop.get(f"/events/{event.id}/availability")).json()
    assert body["tiers"][0]["remaining"] == 7


async def test_availability_of_an_unknown_or_draft_event_is_404(shop):
    draft = make_event(status="draft")
    for event_id in (uuid.uuid4(), draft.id, "nope"):
        assert (await shop.get(f"/events/{event_id}/availability")).status == 404


async def test_deleting_a_hold_releases_its_tickets_at_once_and_deleting_again_answers_the_same(shop, runtime):
    event = make_event()
    tier = make_tier(event, capacity=4)
    (token,) = await admitted(shop, runtime, event, "ann")
    held = await (await reserve(shop, event, tier, "ann", token, 4, WAIT)).json()
    for _ in range(2):
        resp = await shop.delete(f"/reservations/{held['id']}", headers={"X-User-Id": "ann"})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["status"] == "released"
    body = await (await shop.get(f"/events/{event.id}/availability")).json()
    assert body["tiers"][0]["remaining"] == 4
    assert Reservation.get_by_id(held["id"]).status == "released"


async def test_only_the_owner_may_read_or_release_a_reservation(shop, runtime):
    event = make_event()
    tier = make_tier(event)
    (token,) = await admitted(shop, runtime, event, "ann")
    held = await (await reserve(shop, event, tier, "ann", token, 1, WAIT)).json()
    for method in (shop.get, shop.delete):
        resp = await method(f"/reservations/{held['id']}", headers={"X-User-Id": "mallory"})
        assert resp.status == 403
        resp = await method(f"/reservations/{uuid.uuid4()}", headers={"X-User-Id": "ann"})
        assert resp.status == 404
        resp = await method(f"/reservations/{held['id']}")
        assert resp.status == 400


async def test_a_reservation_is_read_from_the_database_once_redis_forgot_it(shop, runtime):
    event = make_event()
    tier = make_tier(event)
    (token,) = await admitted(shop, runtime, event, "ann")
    held = await (await reserve(shop, event, tier, "ann", token, 1, WAIT)).json()
    runtime.redis.delete(runtime.keys.reservation(held["id"]))
    resp = await shop.get(f"/reservations/{held['id']}", headers={"X-User-Id": "ann"})
    assert resp.status == 200 and await resp.json() == held


async def test_a_pending_reservation_cannot_be_released_yet(app, aiohttp_client, runtime):
    client = await aiohttp_client(app)  # no worker: the request stays pending
    event = make_event()
    tier = make_tier(event)
    (token,) = await admitted(client, runtime, event, "ann")
    pending = await (await reserve(client, event, tier, "ann", token)).json()
    resp = await client.delete(f"/reservations/{pending['id']}", headers={"X-User-Id": "ann"})
    assert resp.status == 409 and resp.headers["Retry-After"] == "1"


async def test_a_lapsed_hold_reads_expired_and_its_release_is_gone_but_returns_the_tickets(shop, runtime):
    event = make_event()
    tier = make_tier(event, capacity=2)
    (token,) = await admitted(shop, runtime, event, "ann")
    held = await (await reserve(shop, event, tier, "ann", token, 2, WAIT)).json()
    past = utcnow() - timedelta(seconds=1)
    Reservation.update(expires_at=past).where(Reservation.id == held["id"]).execute()
    runtime.redis.hset(runtime.keys.reservation(held["id"]), "expires_ms", int(past.timestamp() * 1000))

    body = await (await shop.get(f"/reservations/{held['id']}", headers={"X-User-Id": "ann"})).json()
    assert (body["status"], body["reason"]) == ("expired", "hold_expired")
    resp = await shop.delete(f"/reservations/{held['id']}", headers={"X-User-Id": "ann"})
    assert resp.status == 410
    assert Reservation.get_by_id(held["id"]).status == "expired"
    assert (await (await shop.get(f"/events/{event.id}/availability")).json())["tiers"][0]["remaining"] == 2


async def test_a_lapsed_hold_does_not_block_a_new_reservation(shop, runtime):
    event = make_event()
    tier = make_tier(event, capacity=2)
    (token,) = await admitted(shop, runtime, event, "ann")
    held = await (await reserve(shop, event, tier, "ann", token, 2, WAIT)).json()
    runtime.redis.hset(runtime.keys.reservation(held["id"]), "expires_ms", int(utcnow().timestamp() * 1000) - 1)
    resp = await reserve(shop, event, tier, "ann", token, 1, WAIT)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["id"] != held["id"]
    assert Reservation.get_by_id(held["id"]).status == "expired"


async def test_a_decided_request_marks_the_fans_admission_used_in_the_waiting_room(shop, runtime):
    event = make_event()
    tier = make_tier(event)
    (token,) = await admitted(shop, runtime, event, "ann")
    assert (await reserve(shop, event, tier, "ann", token, 1, WAIT)).status == 201
    assert runtime.redis.hget(runtime.keys.room(str(event.id)), "used") == "1"
    assert runtime.redis.getbit(runtime.keys.room_used(str(event.id)), 1) == 1

