"""Public catalogue API: GET /events and GET /events/{id}."""

from __future__ import annotations

import uuid

from tests.unit.web.catalog_helpers import create_event, create_tier, fields, set_counters
from web.schemas.catalog_responses import EventDetail, EventSummaryList


async def test_the_public_list_is_an_array_of_non_draft_events_with_price_ranges(client, admin_headers):
    shown = await create_event(client, admin_headers, name="Celtics vs Heat", status="on_sale")
    await create_event(client, admin_headers, name="Secret draft")
    await create_tier(client, admin_headers, shown["id"], name="Balcony", price_cents=6_500)
    await create_tier(client, admin_headers, shown["id"], name="Floor", price_cents=95_000)
    resp = await client.get("/events")
    assert resp.status == 200
    body = await resp.json()
    EventSummaryList.model_validate(body)
    assert [e["name"] for e in body] == ["Celtics vs Heat"]
    assert (body[0]["price_min_cents"], body[0]["price_max_cents"], body[0]["sold_out"]) == (6_500, 95_000, False)
    assert "created_at" not in body[0] and "tiers" not in body[0]


async def test_an_empty_catalogue_is_an_empty_array(client):
    resp = await client.get("/events")
    assert (resp.status, await resp.json()) == (200, [])


async def test_an_event_whose_every_tier_is_sold_is_sold_out(client, admin_headers):
    event = await create_event(client, admin_headers, status="scheduled")
    tiers = [await create_tier(client, admin_headers, event["id"], name=n, capacity=5) for n in ("A", "B")]
    await set_counters(client, tiers[0]["id"], sold=5)
    assert (await (await client.get("/events")).json())[0]["sold_out"] is False
    await set_counters(client, tiers[1]["id"], sold=5)
    assert (await (await client.get("/events")).json())[0]["sold_out"] is True


async def test_an_event_without_tiers_has_no_price_range_and_is_not_sold_out(client, admin_headers):
    await create_event(client, admin_headers, status="scheduled")
    body = await (await client.get("/events")).json()
    assert (body[0]["price_min_cents"], body[0]["price_max_cents"], body[0]["sold_out"]) == (None, None, False)


async def test_a_public_event_shows_its_tiers_cheapest_first_without_counters(client, admin_headers):
    event = await create_event(client, admin_headers, status="on_sale", wave_size=50)
    await create_tier(client, admin_headers, event["id"], name="Courtside", price_cents=150_000, capacity=40)
    await create_tier(client, admin_headers, event["id"], name="Upper B", price_cents=8_900)
    await create_tier(client, admin_headers, event["id"], name="Upper A", price_cents=8_900)
    resp = await client.get(f"/events/{event['id']}")
    assert resp.status == 200
    body = await resp.json()
    EventDetail.model_validate(body)
    assert [t["name"] for t in body["tiers"]] == ["Upper A", "Upper B", "Courtside"]
    assert "sold" not in body["tiers"][0] and "updated_at" not in body
    assert (body["paused"], body["wave_size"], body["wave_interval_s"]) == (False, 50, None)


async def test_a_draft_is_not_found_publicly(client, admin_headers):
    draft = await create_event(client, admin_headers)
    resp = await client.get(f"/events/{draft['id']}")
    assert resp.status == 404
    assert fields(await resp.json()) == ["path.id"]


async def test_an_unknown_event_is_not_found(client):
    resp = await client.get(f"/events/{uuid.uuid4()}")
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"


async def test_a_malformed_event_id_is_not_found_naming_the_path(client):
    resp = await client.get("/events/not-a-uuid")
    assert resp.status == 404
    assert fields(await resp.json()) == ["path.id"]


async def test_closed_and_canceled_events_stay_listed(client, admin_headers):
    closed = await create_event(client, admin_headers, status="on_sale")
    canceled = await create_event(client, admin_headers, name="Canceled game", status="scheduled")
    for event, status in ((closed, "closed"), (canceled, "canceled")):
        resp = await client.patch(f"/admin/events/{event['id']}", json={"status": status}, headers=admin_headers)
        assert resp.status == 200
    body = await (await client.get("/events")).json()
    assert sorted(e["status"] for e in body) == ["canceled", "closed"]
