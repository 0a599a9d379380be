"""Checkout findings of the hostile audit (issue 12): a canceled or closed event takes no payment,
the price is the one of the instant the hold was granted, and releasing a hold whose payment is
in flight is refused rather than answered with a misleading reason."""

from __future__ import annotations

import pytest

from models import checkout
from models.tables import CheckoutSession, Order, Reservation, Ticket
from tests.factories import admitted
from tests.unit.models.checkout_factories import make_hold, make_tier, tier_counts
from tests.unit.web.test_checkout_journeys import WAIT, fan, on_sale, open_session, reserve
from web.dbexec import run_db


async def held_session(shop, admin_headers, runtime, *, price_cents: int = 4_900) -> tuple[str, str, dict]:
    event_id, tier_id = await on_sale(shop, admin_headers, capacity=5, price_cents=price_cents)
    [token] = await admitted(shop, runtime, event_id, "fan-a", until_can_enter=True)
    held = await reserve(shop, event_id, tier_id, "fan-a", token, 2)
    assert held.status == 201, await held.text()
    return event_id, tier_id, await open_session(shop, "fan-a", (await held.json())["id"])


@pytest.mark.parametrize("status", ["canceled", "closed"])
async def test_a_confirm_after_the_event_ended_its_sale_is_409_releases_the_hold_and_charges_nothing(
        shop, admin_headers, runtime, status):
    event_id, tier_id, session = await held_session(shop, admin_headers, runtime)
    patched = await shop.patch(f"/admin/events/{event_id}", json={"status": status}, headers=admin_headers)
    assert patched.status == 200, await patched.text()

    refused = await shop.post("/checkout/confirm", json={"checkoutId": session["id"], "simulate": "success"},
                              headers=fan("fan-a", **WAIT))
    problem = await refused.json()
    assert refused.status == 409 and problem["code"] == "event_not_on_sale", problem
    assert Reservation.get_by_id(session["reservation_id"]).status == "released"
    assert (CheckoutSession.get_by_id(session["id"]).status, Order.select().count(), Ticket.select().count()) == ("failed", 0, 0)
    stock = runtime.redis.hgetall(runtime.keys.stock(event_id))
    assert int(stock[f"held:{tier_id}"]) == 0 and int(stock[tier_id]) == 5
    again = await shop.post("/checkout/confirm", json={"checkoutId": session["id"], "simulate": "success"}, headers=fan("fan-a"))
    assert again.status == 409 and (await again.json())["code"] == "event_not_on_sale"


async def test_a_session_cannot_be_opened_once_the_event_is_canceled(shop, admin_headers, runtime):
    event_id, tier_id = await on_sale(shop, admin_headers, capacity=5)
    [token] = await admitted(shop, runtime, event_id, "fan-a", until_can_enter=True)
    held = await reserve(shop, event_id, tier_id, "fan-a", token, 1)
    await shop.patch(f"/admin/events/{event_id}", json={"status": "canceled"}, headers=admin_headers)
    resp = await shop.post("/checkout/sessions", json={"reservation_id": (await held.json())["id"]},
                           headers=fan("fan-a", **{"Idempotency-Key": "k-1"}))
    assert resp.status == 409 and (await resp.json())["code"] == "event_not_on_sale"
    assert CheckoutSession.select().count() == 0


async def test_the_session_charges_the_price_of_the_instant_the_hold_was_granted(shop, admin_headers, runtime):
    event_id, tier_id = await on_sale(shop, admin_headers, capacity=5, price_cents=4_900)
    [token] = await admitted(shop, runtime, event_id, "fan-a", until_can_enter=True)
    held = await reserve(shop, event_id, tier_id, "fan-a", token, 2)
    assert held.status == 201, await held.text()
    raised = await shop.patch(f"/admin/tiers/{tier_id}", json={"price_cents": 99_999}, headers=admin_headers)
    assert raised.status == 200, await raised.text()

    session = await open_session(shop, "fan-a", (await held.json())["id"])
    assert session["amount_cents"] == 9_800
    paid = await shop.post("/checkout/confirm", json={"checkoutId": session["id"], "simulate": "success"},
                           headers=fan("fan-a", **WAIT))
    assert paid.status == 200 and (await paid.json())["amount_cents"] == 9_800
    assert Order.get().amount_cents == 9_800


async def test_releasing_a_hold_while_its_payment_is_in_flight_is_409_and_the_payment_goes_through(
        client, app, runtime):
    tier = make_tier(capacity=5)
    hold = make_hold(tier, "fan-a", 2, redis=runtime.redis, keys=runtime.keys)
    sid = checkout.open_session(user_id="fan-a", reservation_id=hold.id, idempotency_key="k").document["id"]
    await run_db(app, checkout.begin_confirm, user_id="fan-a", session_id=sid, simulate="success")  # processing

    released = await client.delete(f"/reservations/{hold.id}", headers=fan("fan-a"))
    problem = await released.json()
    assert released.status == 409 and problem["reason"] == "payment_in_progress", problem
    assert "Retry-After" in released.headers
    assert Reservation.get_by_id(hold.id).status == "held"
    assert checkout.settle(runtime, sid).status == "paid" and tier_counts(tier) == (2, 0)


async def test_a_confirm_that_loses_the_race_to_a_release_says_released_not_expired(client, app, runtime):
    from models.inventory import release_hold

    tier = make_tier(capacity=5)
    hold = make_hold(tier, "fan-a", 2, redis=runtime.redis, keys=runtime.keys)
    sid = checkout.open_session(user_id="fan-a", reservation_id=hold.id, idempotency_key="k").document["id"]
    await run_db(app, checkout.begin_confirm, user_id="fan-a", session_id=sid, simulate="success")
    # The release committed first (it read the session as open an instant before the confirm).
    release_hold(runtime.redis, runtime.keys, str(hold.id), to_status="released", reason="released_by_user")

    settled = checkout.settle(runtime, sid)
    session = CheckoutSession.get_by_id(sid)
    assert (settled.status, session.failure_reason) == ("expired", "reservation_released")
    again = await client.post("/checkout/confirm", json={"checkoutId": sid, "simulate": "success"}, headers=fan("fan-a"))
    problem = await again.json()
    assert again.status == 409 and problem["reason"] == "reservation_released", problem
    assert Order.select().count() == 0 and tier_counts(tier) == (0, 0)
