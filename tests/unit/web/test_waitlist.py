"""The waitlist and order-cancellation routes: problem+json naming the field for every refusal."""

from __future__ import annotations

import uuid

from models.reservations.counters import rebuild_locked
from models.tables import Ticket, TicketTier, utcnow
from models.tickets import issue_for_order
from tests.unit.models.checkout_factories import make_event, make_hold, make_order, make_tier


def tier_with(runtime, capacity=2, held=0, **fields):
    tier = make_tier(make_event(), capacity=capacity, **fields)
    for i in range(held):
        make_hold(tier, f"holder-{i}", 1)
    rebuild_locked(runtime.redis, runtime.keys, str(tier.event_id))
    return tier


def join(client, tier, user="fan-1", quantity=1):
    return client.post(f"/events/{tier.event_id}/waitlist", json={"tier_id": str(tier.id), "quantity": quantity},
                       headers={"X-User-Id": user})


async def problem(resp):
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    return await resp.json()


async def test_joining_a_tier_that_is_not_sold_out_is_409_with_the_remaining_count(client, runtime):
    tier = tier_with(runtime, capacity=3, held=1)
    resp = await join(client, tier)
    assert resp.status == 409
    body = await problem(resp)
    assert (body["reason"], body["remaining"], body["errors"][0]["field"]) == ("not_sold_out", 2, "tier_id")


async def test_a_sold_out_fan_joins_once_and_a_second_join_returns_the_same_entry(client, runtime):
    tier = tier_with(runtime, capacity=2, held=2)
    first = await join(client, tier, quantity=2)
    second = await join(client, tier, quantity=1)
    assert (first.status, second.status) == (201, 200)
    a, b = await first.json(), await second.json()
    assert a["id"] == b["id"] and a["status"] == "waiting" and a["quantity"] == 2 and a["ahead"] == 0
    assert first.headers["Location"] == f"/waitlist/{a['id']}"
    mine = await (await client.get("/me/waitlist", headers={"X-User-Id": "fan-1"})).json()
    assert [e["id"] for e in mine["entries"]] == [a["id"]]


async def test_a_quantity_over_the_tier_limit_is_422_naming_quantity(client, runtime):
    tier = tier_with(runtime, capacity=2, held=2, per_user_limit=2)
    body = await problem(resp := await join(client, tier, quantity=3))
    assert resp.status == 422 and body["errors"][0]["field"] == "quantity"


async def test_the_per_event_cap_counts_tickets_already_bought(client, runtime, settings):
    tier = tier_with(runtime, capacity=10, held=0, per_user_limit=10)
    make_order(tier, "fan-1", settings.event_purchase_limit)
    TicketTier.update(sold=10).where(TicketTier.id == tier.id).execute()
    rebuild_locked(runtime.redis, runtime.keys, str(tier.event_id))
    body = await problem(resp := await join(client, tier))
    assert resp.status == 409 and body["code"] == "limit_exceeded" and body["errors"][0]["field"] == "quantity"


async def test_an_unknown_tier_is_404_naming_tier_id(client, runtime):
    tier = tier_with(runtime, capacity=1, held=1)
    resp = await client.post(f"/events/{tier.event_id}/waitlist", json={"tier_id": str(uuid.uuid4()), "quantity": 1},
                                headers={"X-User-Id": "fan-1"})
    assert resp.status == 404 and (await problem(resp))["errors"][0]["field"] == "tier_id"


async def test_leaving_is_idempotent_and_another_fans_entry_is_404(client, runtime):
    tier = tier_with(runtime, capacity=1, held=1)
    entry = await (await join(client, tier)).json()
    other = await client.delete(f"/waitlist/{entry['id']}", headers={"X-User-Id": "fan-2"})
    assert other.status == 404 and (await problem(other))["errors"][0]["field"] == "path.id"
    for _ in range(2):
        resp = await client.delete(f"/waitlist/{entry['id']}", headers={"X-User-Id": "fan-1"})
        assert resp.status == 200 and (await resp.json())["status"] == "left"
    assert runtime.redis.hgetall(runtime.keys.waitlist(str(tier.event_id))) == {}


async def test_an_offer_shows_with_its_expiry_in_my_waitlist(client, runtime, stub_broker):
    from models.waitlist.offers import offer_returns

    tier = tier_with(runtime, capacity=1, held=1)
    entry = await (await join(client, tier)).json()
    TicketTier.update(capacity=2).where(TicketTier.id == tier.id).execute()  # a capacity increase
    offer_returns(runtime, str(tier.event_id))
    mine = (await (await client.get("/me/waitlist", headers={"X-User-Id": "fan-1"})).json())["entries"]
    assert mine[0]["id"] == entry["id"] and mine[0]["status"] == "offered"
    assert mine[0]["offer"]["quantity"] == 1 and mine[0]["offer"]["expires_at"].endswith("Z")
    reservation = await client.get(f"/reservations/{mine[0]['offer']['reservation_id']}", headers={"X-User-Id": "fan-1"})
    assert (await reservation.json())["status"] == "held"


async def test_order_cancellation_routes(client, runtime, admin_headers, settings):
    tier = tier_with(runtime, capacity=4)
    order = make_order(tier, "fan-1", 2)
    TicketTier.update(sold=2).where(TicketTier.id == tier.id).execute()
    issue_for_order(settings.secret_bytes, order.id)

    other = await client.post(f"/me/orders/{order.id}/cancel", headers={"X-User-Id": "fan-2"})
    assert other.status == 404 and (await problem(other))["errors"][0]["field"] == "path.id"
    own = await client.post(f"/me/orders/{order.id}/cancel", headers={"X-User-Id": "fan-1"})
    assert own.status == 409 and (await problem(own))["reason"] == "self_cancel_not_allowed"
    assert (await client.post(f"/admin/orders/{order.id}/cancel")).status == 401

    Ticket.update(status="checked_in", checked_in_at=utcnow()).where(Ticket.order == order.id, Ticket.seq == 1).execute()
    checked = await client.post(f"/admin/orders/{order.id}/cancel", headers=admin_headers)
    assert checked.status == 409 and (await problem(checked))["reason"] == "ticket_checked_in"

    Ticket.update(status="valid", checked_in_at=None).where(Ticket.order == order.id).execute()
    for _ in range(2):
        done = await client.post(f"/admin/orders/{order.id}/cancel", headers=admin_headers)
        assert done.status == 200 and (await done.json())["status"] == "refunded"
    listed = await (await client.get("/me/orders", headers={"X-User-Id": "fan-1"})).json()
    assert listed[0]["status"] == "refunded" and listed[0]["refund_cents"] == order.amount_cents
    assert listed[0]["refunded_at"]


async def test_a_tier_with_fans_waiting_shows_nothing_remaining_even_with_a_ticket_back(client, runtime):
    tier = tier_with(runtime, capacity=2, held=2)
    await join(client, tier)
    TicketTier.update(held=1).where(TicketTier.id == tier.id).execute()  # a hold ended; its offer is not made yet
    rebuild_locked(runtime.redis, runtime.keys, str(tier.event_id))
    body = await (await client.get(f"/events/{tier.event_id}/availability")).json()
    assert [t["remaining"] for t in body["tiers"]] == [0]


async def test_a_ticket_back_that_no_waiting_fan_fits_shows_as_remaining_and_is_not_joinable_for_one(client, runtime):
    tier = tier_with(runtime, capacity=2, held=2)
    assert (await join(client, tier, "pair", quantity=2)).status == 201
    TicketTier.update(held=1).where(TicketTier.id == tier.id).execute()  # one hold ended: 1 free, the pair wants 2
    rebuild_locked(runtime.redis, runtime.keys, str(tier.event_id))
    body = await (await client.get(f"/events/{tier.event_id}/availability")).json()
    assert [t["remaining"] for t in body["tiers"]] == [1]
    resp = await join(client, tier, "single", quantity=1)
    assert resp.status == 409 and (await problem(resp))["remaining"] == 1  # reserve it instead
    assert (await join(client, tier, "another-pair", quantity=2)).status == 201
