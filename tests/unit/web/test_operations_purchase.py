"""Operations seen through whole purchases: the per-event cap across holds and paid orders,
pause against reservations and checkouts, and /metrics counters moving after a purchase.

The helpers poll the resources rather than use ``Prefer: wait``, so these tests depend on
the workers and the API only (the wait path has tests of its own)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.factories import admitted
from tests.unit.web.catalog_helpers import create_event, create_tier, iso_in

#: How long a helper polls for the workers' decision, in seconds.
DECISION_TIMEOUT_S = 15


async def on_sale(client, headers, *, capacity: int = 10, per_user_limit: int = 4) -> tuple[str, str]:
    event = await create_event(client, headers, status="on_sale", on_sale_at=iso_in(minutes=-5), wave_size=100)
    tier = await create_tier(client, headers, event["id"], capacity=capacity, per_user_limit=per_user_limit)
    return event["id"], tier["id"]


async def poll(client, path: str, user: str, done) -> dict[str, Any]:
    """GET ``path`` until ``done(body)`` (or the timeout); returns the last body."""
    deadline = time.monotonic() + DECISION_TIMEOUT_S
    while True:
        body = await (await client.get(path, headers={"X-User-Id": user})).json()
        if done(body) or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.02)


def _headers(user: str, request_id: str | None) -> dict[str, str]:
    return {"X-User-Id": user, **({"X-Request-Id": request_id} if request_id else {})}


async def reserve(client, event_id: str, tier_id: str, user: str, token: str, quantity: int,
                  request_id: str | None = None) -> tuple[int, dict]:
    """(status, body): 201 held, 409 refused or rejected (body says why), 200 the fan's live one, else as answered."""
    resp = await client.post(f"/events/{event_id}/reservations", json={"tier_id": tier_id, "quantity": quantity, "token": token},
                             headers=_headers(user, request_id))
    body = await resp.json()
    if resp.status != 202:
        return resp.status, body
    body = await poll(client, f"/reservations/{body['id']}", user, lambda b: b["status"] != "pending")
    return {"held": 201, "rejected": 409}.get(body["status"], 202), body


async def pay(client, user: str, reservation_id: str, request_id: str | None = None) -> dict:
    """Open a session, confirm it (simulated success), and wait for the tickets."""
    headers = _headers(user, request_id)
    resp = await client.post("/checkout/sessions", json={"reservation_id": reservation_id},
                             headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert resp.status == 201, await resp.text()
    session = await resp.json()
    resp = await client.post("/checkout/confirm", json={"checkoutId": session["checkoutId"], "simulate": "success"}, headers=headers)
    assert resp.status in (200, 202), await resp.text()
    return await poll(client, f"/checkout/sessions/{session['id']}", user,
                      lambda b: b["status"] != "processing" and len(b["tickets"]) >= b.get("quantity", 1))


async def test_the_purchase_cap_counts_holds_and_paid_orders_across_reservations(shop, admin_headers, runtime, settings):
    assert settings.event_purchase_limit == 6
    event_id, tier_id = await on_sale(shop, admin_headers)
    [token] = await admitted(shop, runtime, event_id, "fan-cap")
    status, first = await reserve(shop, event_id, tier_id, "fan-cap", token, 3)
    assert status == 201, first
    assert (await pay(shop, "fan-cap", first["id"]))["status"] == "paid"
    status, second = await reserve(shop, event_id, tier_id, "fan-cap", token, 2)  # 3 paid + 2 held
    assert status == 201, second
    status, again = await reserve(shop, event_id, tier_id, "fan-cap", token, 1)  # one live reservation per fan
    assert status == 200 and again["id"] == second["id"]
    await shop.delete(f"/reservations/{second['id']}", headers={"X-User-Id": "fan-cap"})
    status, over = await reserve(shop, event_id, tier_id, "fan-cap", token, 4)  # 3 paid + 4 > 6
    assert status == 409 and over["code"] == "limit_exceeded"
    status, last = await reserve(shop, event_id, tier_id, "fan-cap", token, 3)  # 3 paid + 3 = 6
    assert status == 201, last
    assert (await pay(shop, "fan-cap", last["id"]))["status"] == "paid"
    status, body = await reserve(shop, event_id, tier_id, "fan-cap", token, 1)  # 6 paid: nothing more
    assert status == 409 and body["code"] == "limit_exceeded"


async def test_pause_refuses_new_reservations_but_a_granted_hold_still_checks_out(shop, admin_headers, runtime):
    event_id, tier_id = await on_sale(shop, admin_headers)
    early, late = await admitted(shop, runtime, event_id, "fan-early", "fan-late")
    status, held = await reserve(shop, event_id, tier_id, "fan-early", early, 1)
    assert status == 201
    await shop.post(f"/admin/events/{event_id}/pause", headers=admin_headers)
    status, refused = await reserve(shop, event_id, tier_id, "fan-late", late, 1)
    assert status == 409 and refused["code"] == "event_paused"
    assert (await pay(shop, "fan-early", held["id"]))["status"] == "paid"
    await shop.post(f"/admin/events/{event_id}/resume", headers=admin_headers)
    assert (await reserve(shop, event_id, tier_id, "fan-late", late, 1))[0] == 201


def _totals(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_counters_move_after_a_purchase(shop, admin_headers, runtime, stub_broker, stub_worker):
    event_id, tier_id = await on_sale(shop, admin_headers)
    before = _totals(await (await shop.get("/metrics")).text())
    [token] = await admitted(shop, runtime, event_id, "fan-m")
    status, held = await reserve(shop, event_id, tier_id, "fan-m", token, 3)
    assert status == 201
    session = await pay(shop, "fan-m", held["id"])
    assert len(session["tickets"]) == 3
    for queue in ("reservations", "checkout"):  # actors are timed once they return, after announcing
        stub_broker.join(queue)
    stub_worker.join()
    after = _totals(await (await shop.get("/metrics")).text())

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert moved("ticketdrop_orders_paid_total") == 1
    assert moved("ticketdrop_tickets_issued_total") == 3
    assert moved("ticketdrop_admitted_total") >= 1
    assert sum(v for (name, _), v in after.items() if name == "ticketdrop_reservations_total") > sum(
        v for (name, _), v in before.items() if name == "ticketdrop_reservations_total")
    assert moved("ticketdrop_actor_duration_seconds_count", actor="drain_event") >= 1
    assert moved("ticketdrop_http_request_duration_seconds_count", method="POST", route="/checkout/confirm", status="202") == 1
    assert after[("ticketdrop_remaining_tickets", (("event_id", event_id), ("tier_id", tier_id)))] == 7
