"""Admin operations: pause/resume (idempotent, logged, visible to the waiting room), the status
document (stock per tier from the database, queue from Redis, waves, orders, rates), and its
wave settings."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

import pytest
import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

from models.tables import CheckoutSession, Order, Reservation, TicketTier, utcnow
from tests.logcapture import json_log_lines
from tests.unit.web.catalog_helpers import create_event, create_tier, iso_in, set_counters
from web.appkeys import SYNC_REDIS
from web.dbexec import run_db


@pytest.fixture
def op_lines():
    """JSON lines of the operations logger, formatted as the web process writes them."""
    with json_log_lines("ticketdrop.operations", process="web", level=logging.INFO) as lines:
        yield lines


async def on_sale_event(client, headers, *, capacity: int = 10, **overrides):
    event = await create_event(client, headers, status="on_sale", on_sale_at=iso_in(minutes=-5), **overrides)
    tier = await create_tier(client, headers, event["id"], capacity=capacity)
    return event, tier


async def status_of(client, headers, event_id: str) -> dict:
    resp = await client.get(f"/admin/events/{event_id}/status", headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


# -- pause / resume -------------------------------------------------------------------------

async def test_pause_is_idempotent_logged_with_the_request_id_and_shown_in_the_status(client, admin_headers, op_lines):
    event, _ = await on_sale_event(client, admin_headers)
    path = f"/admin/events/{event['id']}/pause"
    first = await client.post(path, headers={**admin_headers, "X-Request-Id": "op-pause-1"})
    again = await client.post(path, headers={**admin_headers, "X-Request-Id": "op-pause-2"})
    assert first.status == again.status == 200
    assert (await first.json())["paused"] is True and (await again.json())["paused"] is True
    assert (await status_of(client, admin_headers, event["id"]))["paused"] is True
    lines = [(line["event"], line["changed"], line["request_id"], line["event_id"]) for line in op_lines()]
    assert lines == [("event paused", True, "op-pause-1", event["id"]), ("event paused", False, "op-pause-2", event["id"])]


async def test_resume_clears_the_pause_and_is_idempotent(client, admin_headers, op_lines):
    event, _ = await on_sale_event(client, admin_headers)
    await client.post(f"/admin/events/{event['id']}/pause", headers=admin_headers)
    for _ in range(2):
        resp = await client.post(f"/admin/events/{event['id']}/resume", headers=admin_headers)
        assert resp.status == 200 and (await resp.json())["paused"] is False
    assert [line["changed"] for line in op_lines() if line["event"] == "event resumed"] == [True, False]


async def test_a_paused_event_s_waiting_room_says_paused_and_nobody_new_can_enter(client, admin_headers, runtime):
    from models.waiting_room import admit_waves

    event, _ = await on_sale_event(client, admin_headers, wave_size=5)
    joined = await (await client.post(f"/events/{event['id']}/waiting-room/join", headers={"X-User-Id": "fan-1"})).json()
    await client.post(f"/admin/events/{event['id']}/pause", headers=admin_headers)
    admit_waves(runtime)  # the tick reads the database: a paused event admits nobody
    status = await (await client.get(f"/events/{event['id']}/waiting-room/status?token={joined['token']}")).json()
    assert status["state"] == "paused" and status["canEnter"] is False
    assert (await status_of(client, admin_headers, event["id"]))["queue"]["admitted"] == 0

    await client.post(f"/admin/events/{event['id']}/resume", headers=admin_headers)
    admit_waves(runtime)
    await asyncio.sleep(0.6)  # the waiting room caches the room-wide state for half a second per process
    status = await (await client.get(f"/events/{event['id']}/waiting-room/status?token={joined['token']}")).json()
    assert status["state"] == "sale_open" and status["canEnter"] is True


@pytest.mark.parametrize("action", ["pause", "resume"])
async def test_pausing_an_unknown_or_malformed_event_is_404(client, admin_headers, action):
    for event_id in (uuid.uuid4(), "not-a-uuid"):
        resp = await client.post(f"/admin/events/{event_id}/{action}", headers=admin_headers)
        assert resp.status == 404
        assert (await resp.json())["errors"][0]["field"] == "path.id"


@pytest.mark.parametrize(("method", "suffix"), [("POST", "pause"), ("POST", "resume"), ("GET", "status"), ("PATCH", "status")])
async def test_operations_need_the_admin_token(client, method, suffix):
    path = f"/admin/events/{uuid.uuid4()}/{suffix}"
    assert (await client.request(method, path, json={"wave_size": 5})).status == 401
    assert (await client.request(method, path, json={"wave_size": 5}, headers={"Authorization": "Bearer nope"})).status == 403


# -- status ---------------------------------------------------------------------------------

def _sell(event_id: str, tier_id: str, *, live_holds: int, lapsed_holds: int, paid_orders: int) -> None:
    """Rows as the reservation and checkout flows leave them."""
    now = utcnow()
    tier = TicketTier.get_by_id(tier_id)

    def reservation(status: str, expires_in_s: float) -> Reservation:
        return Reservation.create(id=uuid.uuid4(), event=event_id, tier=tier, user_id=f"fan-{uuid.uuid4().hex[:6]}",
                                  quantity=1, status=status, expires_at=now + timedelta(seconds=expires_in_s))

    for _ in range(live_holds):
        reservation("held", 120)
    for _ in range(lapsed_holds):
        reservation("held", -1)
    for _ in range(paid_orders):
        r = reservation("converted", 120)
        session = CheckoutSession.create(reservation=r, user_id=r.user_id, idempotency_key=uuid.uuid4().hex,
                                         amount_cents=100, status="paid")
        Order.create(session=session, user_id=r.user_id, event=event_id, tier=tier, quantity=1, amount_cents=100)


async def test_status_reports_stock_per_tier_and_in_total_from_the_database(client, admin_headers):
    event, floor = await on_sale_event(client, admin_headers, capacity=10)
    balcony = await create_tier(client, admin_headers, event["id"], name="Balcony", price_cents=1000, capacity=5)
    await set_counters(client, floor["id"], sold=2, held=3)
    await run_db(client.server.app, _sell, event["id"], floor["id"], live_holds=2, lapsed_holds=1, paid_orders=2)
    status = await status_of(client, admin_headers, event["id"])
    assert (status["capacity"], status["sold"], status["held"], status["remaining"], status["live_holds"]) == (15, 2, 3, 10, 2)
    tiers = {t["name"]: t for t in status["tiers"]}
    assert tiers["Lower Level"] | {"redis_available": None} == {
        "tier_id": floor["id"], "name": "Lower Level", "capacity": 10, "sold": 2, "held": 3, "remaining": 5,
        "live_holds": 2, "waitlist": 0, "offers_outstanding": 0, "redis_available": None}
    assert (tiers["Balcony"]["tier_id"], tiers["Balcony"]["remaining"]) == (balcony["id"], 5)
    assert status["orders_paid"] == 2
    # Five reservations and two orders in the last minute.
    assert status["reservation_rate_per_s"] == round(5 / 60, 3) and status["order_rate_per_s"] == round(2 / 60, 3)
    assert status["paused"] is False and status["status"] == "on_sale" and status["degraded"] == []


async def test_status_shows_the_queue_and_admission_progress(client, admin_headers, runtime):
    from models.waiting_room import admit_waves

    event, _ = await on_sale_event(client, admin_headers, wave_size=2, wave_interval_s=1.0)
    for i in range(3):
        resp = await client.post(f"/events/{event['id']}/waiting-room/join", headers={"X-User-Id": f"fan-{i}"})
        assert resp.status == 201
    admit_waves(runtime)
    status = await status_of(client, admin_headers, event["id"])
    assert status["queue"] | {"prequeue_size": 0} == {"total": 3, "waiting": 1, "admitted": 2, "expired": 0, "used": 0,
                                                      "prequeue_size": 0}
    assert status["admitted_up_to"] == 2
    assert (status["wave_size"], status["wave_interval_s"], status["wave_overridden"]) == (2, 1.0, True)


async def test_status_falls_back_to_the_default_wave_settings(client, admin_headers, settings):
    event, _ = await on_sale_event(client, admin_headers)
    status = await status_of(client, admin_headers, event["id"])
    assert (status["wave_size"], status["wave_interval_s"], status["wave_overridden"]) == (
        settings.wave_size, settings.wave_interval_s, False)


async def test_status_during_a_redis_outage_is_degraded_not_an_error(aiohttp_client, app, admin_headers):
    app[SYNC_REDIS] = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    client = await aiohttp_client(app)
    event, _ = await on_sale_event(client, admin_headers)
    status = await status_of(client, admin_headers, event["id"])
    assert status["degraded"] == ["redis"] and status["queue"] is None
    assert status["capacity"] == 10 and status["tiers"][0]["redis_available"] is None


async def test_status_of_an_unknown_event_is_404(client, admin_headers):
    resp = await client.get(f"/admin/events/{uuid.uuid4()}/status", headers=admin_headers)
    assert resp.status == 404


# -- wave settings --------------------------------------------------------------------------

async def test_wave_size_and_interval_can_be_changed_from_the_status(client, admin_headers, op_lines):
    event, _ = await on_sale_event(client, admin_headers)
    resp = await client.patch(f"/admin/events/{event['id']}/status", json={"wave_size": 50, "wave_interval_s": 2.5},
                                  headers=admin_headers)
    assert resp.status == 200
    body = await resp.json()
    assert (body["wave_size"], body["wave_interval_s"], body["wave_overridden"]) == (50, 2.5, True)
    admin = await (await client.get(f"/admin/events/{event['id']}", headers=admin_headers)).json()
    assert (admin["wave_size"], admin["wave_interval_s"]) == (50, 2.5)
    changed = [line for line in op_lines() if line["event"] == "event waves changed"]
    assert changed and changed[0]["wave_size"] == 50


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"), ({"wave_size": 0}, "wave_size"), ({"wave_interval_s": -1}, "wave_interval_s"),
    ({"wave_size": "10"}, "wave_size"), ({"paused": True}, "paused"),
])
async def test_bad_wave_changes_are_422_naming_the_field(client, admin_headers, body, field):
    event, _ = await on_sale_event(client, admin_headers)
    resp = await client.patch(f"/admin/events/{event['id']}/status", json=body, headers=admin_headers)
    assert resp.status == 422
    assert field in [e["field"] for e in (await resp.json())["errors"]]


async def test_changing_waves_of_an_unknown_event_is_404(client, admin_headers):
    resp = await client.patch(f"/admin/events/{uuid.uuid4()}/status", json={"wave_size": 5}, headers=admin_headers)
    assert resp.status == 404
