"""Whole journeys through HTTP: join -> admitted -> reserve -> session -> confirm -> tickets ->
verify -> check-in, and a failed payment whose tickets another fan then buys.
(tests/integration re-runs them on real PostgreSQL and Redis.)"""

from __future__ import annotations

import uuid

from tests.factories import admitted
from tests.unit.web.catalog_helpers import create_event, create_tier, iso_in
from web.schemas.checkout import CheckoutSession, UserTicketList

WAIT = {"Prefer": "wait=5"}


def fan(user: str, **extra: str) -> dict[str, str]:
    return {"X-User-Id": user, **extra}


async def on_sale(client, admin_headers, *, capacity: int, price_cents: int = 4_900) -> tuple[str, str]:
    event = await create_event(client, admin_headers, name="Aurora Lights Live", status="on_sale",
                               on_sale_at=iso_in(minutes=-5), wave_size=100)
    tier = await create_tier(client, admin_headers, event["id"], name="VIP", capacity=capacity, price_cents=price_cents)
    return event["id"], tier["id"]


async def reserve(client, event_id: str, tier_id: str, user: str, token: str, quantity: int):
    return await client.post(f"/events/{event_id}/reservations", json={"tier_id": tier_id, "quantity": quantity, "token": token},
                             headers=fan(user, **WAIT))


async def open_session(client, user: str, reservation_id: str) -> dict:
    resp = await client.post("/checkout/sessions", json={"reservation_id": reservation_id},
                             headers=fan(user, **{"Idempotency-Key": uuid.uuid4().hex}))
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def remaining(client, event_id: str, tier_id: str) -> int:
    body = await (await client.get(f"/events/{event_id}/availability")).json()
    return next(t["remaining"] for t in body["tiers"] if t["tier_id"] == tier_id)


async def test_a_fan_goes_from_the_waiting_room_to_a_checked_in_ticket(shop, admin_headers, runtime):
    event_id, tier_id = await on_sale(shop, admin_headers, capacity=5)
    [token] = await admitted(shop, runtime, event_id, "fan-a", until_can_enter=True)
    held = await reserve(shop, event_id, tier_id, "fan-a", token, 2)
    assert held.status == 201, await held.text()
    session = await open_session(shop, "fan-a", (await held.json())["id"])
    assert session["amount_cents"] == 9_800

    paid = await shop.post("/checkout/confirm", json={"checkoutId": session["checkoutId"], "simulate": "success"},
                           headers=fan("fan-a", **WAIT))
    assert paid.status == 200, await paid.text()
    done = await (await shop.get(paid.headers["Location"], headers=fan("fan-a", **WAIT))).json()
    CheckoutSession.model_validate(done)
    assert done["status"] == "paid" and [t["seq"] for t in done["tickets"]] == [1, 2]
    assert await remaining(shop, event_id, tier_id) == 3

    tickets = await (await shop.get("/me/tickets", headers=fan("fan-a"))).json()
    UserTicketList.model_validate(tickets)
    assert len(tickets) == 2 and tickets[0]["event"]["name"] == "Aurora Lights Live" and tickets[0]["tier"]["name"] == "VIP"
    orders = await (await shop.get("/me/orders", headers=fan("fan-a"))).json()
    assert [o["id"] for o in orders] == [done["order_id"]]
    qr = await shop.get(f"/tickets/{tickets[0]['code']}/qr.svg", headers=fan("fan-a"))
    assert qr.status == 200 and qr.content_type == "image/svg+xml"

    scan = {"payload": tickets[0]["qr_payload"]}
    verified = await (await shop.post("/admin/tickets/verify", json=scan, headers=admin_headers)).json()
    assert verified["result"] == "valid" and verified["ticket"]["code"] == tickets[0]["code"]
    checked = await shop.post("/admin/tickets/check-in", json=scan, headers=admin_headers)
    assert checked.status == 200 and (await checked.json())["result"] == "admitted"
    again = await shop.post("/admin/tickets/check-in", json=scan, headers=admin_headers)
    assert again.status == 409 and (await again.json())["checked_in_at"]
    still_valid = await (await shop.post("/admin/tickets/verify", json={"payload": tickets[1]["qr_payload"]},
                                         headers=admin_headers)).json()
    assert still_valid["result"] == "valid"


async def test_a_failed_payment_puts_the_tickets_back_and_another_fan_buys_them(shop, admin_headers, runtime):
    event_id, tier_id = await on_sale(shop, admin_headers, capacity=2)
    token_a, token_b = await admitted(shop, runtime, event_id, "fan-a", "fan-b", until_can_enter=True)
    held = await reserve(shop, event_id, tier_id, "fan-a", token_a, 2)
    assert held.status == 201, await held.text()
    sold_out = await reserve(shop, event_id, tier_id, "fan-b", token_b, 2)
    assert sold_out.status == 409, await sold_out.text()
    assert await remaining(shop, event_id, tier_id) == 0

    session = await open_session(shop, "fan-a", (await held.json())["id"])
    failed = await shop.post("/checkout/confirm", json={"checkoutId": session["id"], "simulate": "fail"},
                             headers=fan("fan-a", **WAIT))
    assert failed.status == 409 and (await failed.json())["reason"] == "payment_failed"
    assert await remaining(shop, event_id, tier_id) == 2
    reservation = await (await shop.get(f"/reservations/{session['reservation_id']}", headers=fan("fan-a"))).json()
    assert reservation["status"] == "released"

    second = await reserve(shop, event_id, tier_id, "fan-b", token_b, 2)
    assert second.status == 201, await second.text()
    theirs = await open_session(shop, "fan-b", (await second.json())["id"])
    paid = await shop.post("/checkout/confirm", json={"checkoutId": theirs["id"], "simulate": "success"},
                           headers=fan("fan-b", **WAIT))
    assert paid.status == 200 and (await paid.json())["status"] == "paid"
    assert await remaining(shop, event_id, tier_id) == 0
    retry = await shop.post("/checkout/confirm", json={"checkoutId": session["id"], "simulate": "success"}, headers=fan("fan-a"))
    assert retry.status == 409
    assert await (await shop.get("/me/tickets", headers=fan("fan-a"))).json() == []
