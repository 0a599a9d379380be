"""Hostile input found by the audit (issue 12, findings 4 and 5): each is a 4xx problem naming
what was wrong, never a 500, and nothing is written."""

from __future__ import annotations

import pytest

from models.tables import Event, TicketTier
from tests.unit.web.catalog_helpers import create_event, event_body, tier_body
from tests.unit.web.test_waiting_room import make_event

HUGE = "18446744073709551616"  # 2**64: past orjson's integer range


async def problem(resp) -> dict:
    assert resp.content_type == "application/problem+json", await resp.text()
    return await resp.json()


def fields(body: dict) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


# -- finding 4: huge integers, NUL in paths ------------------------------------------------------

@pytest.mark.parametrize("param", ["offset", "limit"])
async def test_a_huge_integer_in_a_query_parameter_is_a_400_naming_it(client, db, param):
    event = make_event(on_sale_in_s=-5)
    resp = await client.get(f"/events/{event.id}/waiting-room/fairness/hmacs?{param}={HUGE}")
    assert resp.status == 400
    assert fields(await problem(resp)) == {f"query.{param}"}


async def test_a_ticket_code_with_a_nul_byte_is_a_404(client, db):
    resp = await client.get("/tickets/ab%00cd/qr.svg", headers={"X-User-Id": "fan-1"})
    assert resp.status == 404
    assert fields(await problem(resp)) == {"path.code"}


@pytest.mark.parametrize("path", ["/ui/js/fan.js%00.png", "/ui/js/%00", "/ui/%00/fan.js"])
async def test_an_asset_path_with_a_nul_byte_is_a_404(client, path):
    resp = await client.get(path)
    assert resp.status == 404
    await problem(resp)


@pytest.mark.parametrize("route", ["/events/{}/availability", "/reservations/{}", "/checkout/sessions/{}",
                                   "/events/{}/waiting-room/fairness"])
async def test_a_path_id_with_a_nul_byte_is_a_404(client, db, route):
    resp = await client.get(route.format("ab%00cd"), headers={"X-User-Id": "fan-1"})
    assert resp.status == 404
    await problem(resp)


# -- finding 5: one rule for every text field ---------------------------------------------------

@pytest.mark.parametrize("field", ["name", "venue"])
@pytest.mark.parametrize("bad", ["a\x00b", "line\nbreak", "tab\there", "del\x7f", "c1\x85c1"])
async def test_single_line_event_text_with_a_control_character_is_a_422_naming_the_field(client, db, admin_headers, field, bad):
    resp = await client.post("/admin/events", json=event_body(**{field: bad}), headers=admin_headers)
    assert resp.status == 422
    assert fields(await problem(resp)) == {field}
    assert Event.select().count() == 0


@pytest.mark.parametrize("bad", ["a\x00b", "bell\x07"])
async def test_a_description_refuses_control_characters(client, db, admin_headers, bad):
    resp = await client.post("/admin/events", json=event_body(description=bad), headers=admin_headers)
    assert resp.status == 422
    assert fields(await problem(resp)) == {"description"}


async def test_a_description_may_have_several_lines(client, db, admin_headers):
    resp = await client.post("/admin/events", json=event_body(description="Doors 18:00.\r\nNo bags.\n\tThanks"),
                             headers=admin_headers)
    assert resp.status == 201, await resp.text()


@pytest.mark.parametrize("field", ["name", "venue", "description"])
async def test_patching_event_text_with_a_nul_is_a_422_and_changes_nothing(client, db, admin_headers, field):
    event = await create_event(client, admin_headers)
    resp = await client.patch(f"/admin/events/{event['id']}", json={field: "x\x00y"}, headers=admin_headers)
    assert resp.status == 422
    assert fields(await problem(resp)) == {field}
    assert "\x00" not in getattr(Event.get_by_id(event["id"]), field)


async def test_tier_names_refuse_control_characters_on_create_and_update(client, db, admin_headers):
    event = await create_event(client, admin_headers)
    resp = await client.post("/admin/tiers", json=tier_body(event["id"], name="VIP\x00"), headers=admin_headers)
    assert resp.status == 422
    assert fields(await problem(resp)) == {"name"}
    assert TicketTier.select().count() == 0
    tier = await (await client.post("/admin/tiers", json=tier_body(event["id"]), headers=admin_headers)).json()
    resp = await client.patch(f"/admin/tiers/{tier['id']}", json={"name": "VIP\x1b[31m"}, headers=admin_headers)
    assert resp.status == 422
    assert fields(await problem(resp)) == {"name"}


@pytest.mark.parametrize("route", ["/admin/tickets/verify", "/admin/tickets/check-in"])
@pytest.mark.parametrize("payload", ["TD1.ab\x00cd.e.t.s", "TD1.abcd.e\x00.t.s", "\x00"])
async def test_a_scanned_payload_with_a_control_character_is_a_422_naming_it(client, db, admin_headers, route, payload):
    resp = await client.post(route, json={"payload": payload}, headers=admin_headers)
    assert resp.status == 422
    assert fields(await problem(resp)) == {"payload"}


async def test_a_reservation_token_with_a_control_character_is_a_422_naming_it(client, db):
    event = make_event(on_sale_in_s=-5, status="on_sale")
    tier = TicketTier.create(event=event, name="GA", price_cents=100, capacity=10, per_user_limit=4)
    resp = await client.post(f"/events/{event.id}/reservations", headers={"X-User-Id": "fan-1"},
                             json={"tier_id": str(tier.id), "quantity": 1, "token": "tok\x00en"})
    assert resp.status == 422
    assert fields(await problem(resp)) == {"token"}
