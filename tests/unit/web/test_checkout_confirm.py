"""POST /checkout/confirm through the workers, GET /checkout/sessions/{id}, GET /me/orders."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from models.tables import Order, Reservation, Ticket
from tests.unit.models.checkout_factories import lapse, make_hold, make_tier, tier_counts
from web.dbexec import run_db
from web.schemas.checkout import CheckoutSession as SessionSchema
from web.schemas.checkout import OrderList

FAN = {"X-User-Id": "fan-1"}


@pytest.fixture
async def tier(app):
    return await run_db(app, make_tier, capacity=10, price_cents=5_000)


async def session_for(client, app, runtime, tier, user="fan-1", quantity=2):
    hold = await run_db(app, make_hold, tier, user, quantity, redis=runtime.redis, keys=runtime.keys)
    resp = await client.post("/checkout/sessions", json={"reservation_id": str(hold.id)},
                             headers={"X-User-Id": user, "Idempotency-Key": uuid.uuid4().hex})
    assert resp.status == 201, await resp.text()
    return hold, await resp.json()


async def confirm(client, sid, simulate="success", headers=None, **extra):
    return await client.post("/checkout/confirm", json={"checkoutId": sid, "simulate": simulate, **extra},
                             headers={**FAN, **(headers or {})})


async def settled(stub_broker, stub_worker):
    await asyncio.get_running_loop().run_in_executor(None, lambda: (stub_broker.join("checkout"), stub_worker.join()))


async def test_confirm_answers_202_with_location_and_the_worker_pays_and_issues(client, app, runtime, tier, stub_broker, stub_worker):
    _, session = await session_for(client, app, runtime, tier)
    resp = await confirm(client, session["id"])
    body = await resp.json()
    assert resp.status == 202 and body["status"] == "processing"
    assert resp.headers["Location"] == f"/checkout/sessions/{session['id']}"
    await settled(stub_broker, stub_worker)
    done = await (await client.get(resp.headers["Location"], headers=FAN)).json()
    SessionSchema.model_validate(done)
    assert done["status"] == "paid" and done["order_id"] and len(done["tickets"]) == 2
    assert await run_db(app, tier_counts, tier) == (2, 0)


async def test_prefer_wait_answers_with_the_paid_session(client, app, runtime, tier, stub_worker):
    _, session = await session_for(client, app, runtime, tier)
    resp = await confirm(client, session["id"], headers={"Prefer": "wait=5"})
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "paid" and body["order_id"]
    polled = await (await client.get(f"/checkout/sessions/{session['id']}", headers={**FAN, "Prefer": "wait=5"})).json()
    assert len(polled["tickets"]) == 2


async def test_a_failed_payment_is_409_with_the_session_and_the_stock_is_back_at_once(client, app, runtime, tier, stub_worker):
    hold, session = await session_for(client, app, runtime, tier)
    resp = await confirm(client, session["id"], simulate="fail", headers={"Prefer": "wait=5"})
    problem = await resp.json()
    assert resp.status == 409 and problem["reason"] == "payment_failed" and problem["checkout"]["status"] == "failed"
    assert await run_db(app, tier_counts, tier) == (0, 0)
    stock = runtime.redis.hgetall(runtime.keys.stock(str(tier.event_id)))
    assert stock[str(tier.id)] == "10"
    assert (await run_db(app, Reservation.get_by_id, hold.id)).status == "released"
    again = await confirm(client, session["id"])
    assert again.status == 409 and (await again.json())["reason"] == "payment_failed"


async def test_confirming_a_paid_session_again_returns_the_same_result(client, app, runtime, tier, stub_worker):
    _, session = await session_for(client, app, runtime, tier)
    paid = await (await confirm(client, session["id"], headers={"Prefer": "wait=5"})).json()
    again = await confirm(client, session["id"])
    body = await again.json()
    assert again.status == 200 and body["order_id"] == paid["order_id"]
    assert await run_db(app, Order.select().count) == 1


async def test_a_confirm_after_the_hold_expired_is_410_and_nothing_is_charged(client, app, runtime, tier, stub_broker, stub_worker):
    hold, session = await session_for(client, app, runtime, tier)
    await run_db(app, lapse, hold)
    resp = await confirm(client, session["id"])
    assert resp.status == 410 and (await resp.json())["reason"] == "hold_expired"
    await settled(stub_broker, stub_worker)
    assert await run_db(app, Order.select().count) == 0
    assert await run_db(app, tier_counts, tier) == (0, 0)
    assert (await run_db(app, Reservation.get_by_id, hold.id)).status == "expired"


async def test_a_hundred_simultaneous_confirms_make_one_order(client, app, runtime, tier, stub_broker, stub_worker):
    _, session = await session_for(client, app, runtime, tier, quantity=3)
    resps = await asyncio.gather(*(confirm(client, session["id"]) for _ in range(100)))
    assert {r.status for r in resps} <= {200, 202}
    await settled(stub_broker, stub_worker)
    assert await run_db(app, Order.select().count) == 1
    assert await run_db(app, Ticket.select().count) == 3
    assert await run_db(app, tier_counts, tier) == (3, 0)


async def test_the_idempotency_key_is_honoured_on_confirm(client, app, runtime, tier):
    _, session = await session_for(client, app, runtime, tier)
    first = await confirm(client, session["id"], headers={"Idempotency-Key": "c-1"})
    replay = await confirm(client, session["id"], headers={"Idempotency-Key": "c-1"})
    assert first.status == replay.status == 202
    assert replay.headers["Idempotent-Replayed"] == "true" and await replay.read() == await first.read()
    mismatch = await confirm(client, session["id"], simulate="fail", headers={"Idempotency-Key": "c-1"})
    assert mismatch.status == 422 and (await mismatch.json())["code"] == "idempotency_key_reused"


async def test_another_outcome_while_processing_is_409(client, app, runtime, tier):
    _, session = await session_for(client, app, runtime, tier)
    assert (await confirm(client, session["id"])).status == 202
    resp = await confirm(client, session["id"], simulate="fail")
    assert resp.status == 409 and (await resp.json())["reason"] == "payment_in_progress"


async def test_confirm_errors_name_the_problem(client, app, runtime, tier):
    _, session = await session_for(client, app, runtime, tier)
    no_user = await client.post("/checkout/confirm", json={"checkoutId": session["id"]})
    assert no_user.status == 400
    assert (await confirm(client, str(uuid.uuid4()))).status == 404
    assert (await confirm(client, session["id"], headers={"X-User-Id": "fan-2"})).status == 404
    bad = await confirm(client, session["id"], simulate="maybe")
    assert bad.status == 422 and (await bad.json())["errors"][0]["field"] == "simulate"
    assert (await confirm(client, "not-a-uuid")).status == 422


async def test_my_orders_lists_the_paid_orders(client, app, runtime, tier, stub_worker):
    _, session = await session_for(client, app, runtime, tier)
    await confirm(client, session["id"], headers={"Prefer": "wait=5"})
    resp = await client.get("/me/orders", headers=FAN)
    body = await resp.json()
    assert resp.status == 200 and len(body) == 1
    OrderList.model_validate(body)
    assert body[0]["checkoutId"] == session["id"] and body[0]["amount_cents"] == 10_000
    assert await (await client.get("/me/orders", headers={"X-User-Id": "fan-2"})).json() == []
    assert (await client.get("/me/orders")).status == 400
