"""Admin catalogue API: auth, every field rule (422 naming the field), lifecycle and capacity
conflicts (409), unknown and malformed ids (404), and body handling (400, 413, 415)."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from tests.unit.web.catalog_helpers import create_event, create_tier, event_body, fields, iso_in, set_counters, tier_body
from web import snapshots
from web.schemas.catalog_responses import AdminEvent, AdminEventList, AdminTier, AdminTierList

ADMIN_ROUTES = [
    ("POST", "/admin/events"), ("GET", "/admin/events"), ("GET", "/admin/events/{id}"), ("PATCH", "/admin/events/{id}"),
    ("POST", "/admin/tiers"), ("GET", "/admin/tiers"), ("GET", "/admin/tiers/{id}"), ("PATCH", "/admin/tiers/{id}"),
]


# -- authentication -------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_admin_routes_without_a_token_are_401(client, method, path):
    resp = await client.request(method, path.format(id=uuid.uuid4()), json={})
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert fields(await resp.json()) == ["header.Authorization"]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_admin_routes_with_a_wrong_token_are_403(client, method, path):
    resp = await client.request(method, path.format(id=uuid.uuid4()), json={}, headers={"Authorization": "Bearer nope"})
    assert resp.status == 403


# -- events ---------------------------------------------------------------------------------

async def test_creating_an_event_answers_201_with_the_admin_document(client, admin_headers):
    resp = await client.post("/admin/events", json=event_body(starts_at="2031-03-01T19:30:00-05:00",
                                                              on_sale_at="2031-01-10T10:00:00+01:00"), headers=admin_headers)
    assert resp.status == 201
    body = await resp.json()
    AdminEvent.model_validate(body)
    assert resp.headers["Location"] == f"/admin/events/{body['id']}"
    assert (body["status"], body["description"], body["tiers"], body["wave_size"]) == ("draft", "", [], None)
    assert (body["starts_at"], body["on_sale_at"]) == ("2031-03-02T00:30:00.000Z", "2031-01-10T09:00:00.000Z")


async def test_an_event_keeps_its_venue_time_zone_and_defaults_to_utc(client, admin_headers):
    plain = await create_event(client, admin_headers)
    assert plain["timezone"] == "UTC"
    event = await create_event(client, admin_headers, timezone="America/Los_Angeles", status="scheduled")
    assert event["timezone"] == "America/Los_Angeles"
    resp = await client.patch(f"/admin/events/{event['id']}", json={"timezone": "Europe/Berlin"}, headers=admin_headers)
    assert (resp.status, (await resp.json())["timezone"]) == (200, "Europe/Berlin")
    public = await (await client.get(f"/events/{event['id']}")).json()
    assert public["timezone"] == "Europe/Berlin"


async def test_an_event_says_which_codes_its_gate_takes_and_defaults_to_both(client, admin_headers):
    assert (await create_event(client, admin_headers))["ticket_mode"] == "both"
    event = await create_event(client, admin_headers, ticket_mode="rotating")
    assert event["ticket_mode"] == "rotating"
    resp = await client.patch(f"/admin/events/{event['id']}", json={"ticket_mode": "static"}, headers=admin_headers)
    assert (resp.status, (await resp.json())["ticket_mode"]) == (200, "static")


async def test_names_are_stored_without_surrounding_whitespace(client, admin_headers):
    event = await create_event(client, admin_headers, name="  Bulls vs Bucks  ")
    assert event["name"] == "Bulls vs Bucks"


EVENT_FIELD_RULES = [
    ("name", ""), ("name", "   "), ("name", "x" * 201), ("name", 12), ("name", None),
    ("venue", ""), ("venue", "v" * 201),
    ("description", "d" * 5001),
    ("starts_at", "2031-03-01T19:30:00"), ("starts_at", "tomorrow"), ("starts_at", 1_900_000_000), ("starts_at", "1999-12-31T00:00:00Z"),
    ("on_sale_at", "2031-01-10T10:00:00"), ("on_sale_at", "2031-03-01T19:30:00Z"), ("on_sale_at", "2031-03-01T20:30:00+01:00"),
    ("status", "closed"), ("status", "canceled"), ("status", "live"),
    ("wave_size", 0), ("wave_size", 100_001), ("wave_size", "10"), ("wave_size", 2.5),
    ("wave_interval_s", 0.4), ("wave_interval_s", 3600.5), ("wave_interval_s", True),
    ("timezone", "Mars/Olympus_Mons"), ("timezone", ""), ("timezone", "america/los_angeles"), ("timezone", "../../etc/passwd"),
    ("timezone", None), ("timezone", -8),
    ("ticket_mode", "qr"), ("ticket_mode", None), ("ticket_mode", "ROTATING"),
    ("colour", "red"),
]


@pytest.mark.parametrize(("field", "value"), EVENT_FIELD_RULES)
async def test_each_event_field_rule_is_a_422_naming_the_field(client, admin_headers, field, value):
    body = event_body(**{"starts_at": "2031-03-01T19:30:00Z", "on_sale_at": "2031-01-10T10:00:00Z", field: value})
    resp = await client.post("/admin/events", json=body, headers=admin_headers)
    assert resp.status == 422, await resp.text()
    problem = await resp.json()
    assert field in fields(problem)
    assert problem["code"] == "validation_failed"


@pytest.mark.parametrize("missing", ["name", "venue", "starts_at", "on_sale_at"])
async def test_a_missing_required_event_field_is_a_422_naming_it(client, admin_headers, missing):
    body = event_body()
    del body[missing]
    resp = await client.post("/admin/events", json=body, headers=admin_headers)
    assert resp.status == 422
    assert missing in fields(await resp.json())


async def test_the_admin_list_includes_drafts_with_tiers_and_counters(client, admin_headers):
    draft = await create_event(client, admin_headers)
    tier = await create_tier(client, admin_headers, draft["id"])
    await set_counters(client, tier["id"], sold=3, held=2)
    resp = await client.get("/admin/events", headers=admin_headers)
    body = await resp.json()
    AdminEventList.model_validate(body)
    assert [e["status"] for e in body] == ["draft"]
    assert (body[0]["tiers"][0]["sold"], body[0]["tiers"][0]["held"]) == (3, 2)


async def test_an_admin_can_read_a_draft(client, admin_headers):
    draft = await create_event(client, admin_headers)
    resp = await client.get(f"/admin/events/{draft['id']}", headers=admin_headers)
    assert (resp.status, (await resp.json())["id"]) == (200, draft["id"])


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/admin/events/{id}"), ("PATCH", "/admin/events/{id}"), ("GET", "/admin/tiers/{id}"), ("PATCH", "/admin/tiers/{id}"),
])
@pytest.mark.parametrize("make_id", [lambda: str(uuid.uuid4()), lambda: "not-a-uuid"], ids=["unknown", "malformed"])
async def test_unknown_and_malformed_ids_are_404_naming_the_path(client, admin_headers, method, path, make_id):
    resp = await client.request(method, path.format(id=make_id()), json={"name": "x"}, headers=admin_headers)
    assert resp.status == 404
    assert fields(await resp.json()) == ["path.id"]


async def test_patching_an_event_changes_only_the_sent_fields(client, admin_headers):
    event = await create_event(client, admin_headers, description="Opening night", wave_size=100)
    resp = await client.patch(f"/admin/events/{event['id']}", json={"venue": "Chase Center, San Francisco, CA"}, headers=admin_headers)
    assert resp.status == 200
    body = await resp.json()
    assert (body["venue"], body["description"], body["wave_size"], body["name"]) == (
        "Chase Center, San Francisco, CA", "Opening night", 100, event["name"])
    assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(event["updated_at"])


async def test_a_null_wave_setting_goes_back_to_the_server_default(client, admin_headers):
    event = await create_event(client, admin_headers, wave_size=100, wave_interval_s=2.5)
    resp = await client.patch(f"/admin/events/{event['id']}", json={"wave_size": None, "wave_interval_s": None}, headers=admin_headers)
    assert ((await resp.json())["wave_size"], (await resp.json())["wave_interval_s"]) == (None, None)


async def test_an_empty_patch_changes_nothing(client, admin_headers):
    event = await create_event(client, admin_headers)
    resp = await client.patch(f"/admin/events/{event['id']}", json={}, headers=admin_headers)
    assert (resp.status, (await resp.json())["updated_at"]) == (200, event["updated_at"])


@pytest.mark.parametrize(("field", "value"), [
    ("name", None), ("name", ""), ("venue", None), ("description", None), ("starts_at", None), ("starts_at", "2031-03-01T19:30:00"),
    ("on_sale_at", None), ("status", None), ("status", "live"), ("wave_size", 0), ("wave_interval_s", 0.1), ("paused", True), ("id", "x"),
    ("timezone", None), ("timezone", "PST8PDT/Nowhere"), ("ticket_mode", None), ("ticket_mode", "printed"),
])
async def test_each_event_patch_rule_is_a_422_naming_the_field(client, admin_headers, field, value):
    event = await create_event(client, admin_headers)
    resp = await client.patch(f"/admin/events/{event['id']}", json={field: value}, headers=admin_headers)
    assert resp.status == 422, await resp.text()
    assert field in fields(await resp.json())


@pytest.mark.parametrize(("field", "value"), [("on_sale_at", iso_in(days=45)), ("starts_at", iso_in(hours=1))])
async def test_a_patch_breaking_the_time_order_against_the_stored_value_is_a_422(client, admin_headers, field, value):
    event = await create_event(client, admin_headers)
    resp = await client.patch(f"/admin/events/{event['id']}", json={field: value}, headers=admin_headers)
    assert resp.status == 422
    assert fields(await resp.json()) == [field]


async def test_an_event_walks_the_whole_lifecycle(client, admin_headers):
    event = await create_event(client, admin_headers)
    for status in ("scheduled", "on_sale", "on_sale", "closed"):
        resp = await client.patch(f"/admin/events/{event['id']}", json={"status": status}, headers=admin_headers)
        assert (resp.status, (await resp.json())["status"]) == (200, status)


@pytest.mark.parametrize(("start", "target"), [("draft", "on_sale"), ("scheduled", "draft"), ("on_sale", "scheduled")])
async def test_an_illegal_status_move_is_409(client, admin_headers, start, target):
    event = await create_event(client, admin_headers, status=start)
    resp = await client.patch(f"/admin/events/{event['id']}", json={"status": target}, headers=admin_headers)
    assert resp.status == 409
    problem = await resp.json()
    assert (problem["code"], problem["current"], problem["target"]) == ("illegal_transition", start, target)


async def test_a_canceled_event_is_final(client, admin_headers):
    event = await create_event(client, admin_headers)
    await client.patch(f"/admin/events/{event['id']}", json={"status": "canceled"}, headers=admin_headers)
    resp = await client.patch(f"/admin/events/{event['id']}", json={"status": "scheduled"}, headers=admin_headers)
    assert resp.status == 409


async def test_an_event_change_is_visible_to_the_snapshot_at_once(client, admin_headers):
    event = await create_event(client, admin_headers, status="scheduled")
    app = client.server.app
    assert (await snapshots.event_snapshot(app, event["id"])).name == event["name"]
    await client.patch(f"/admin/events/{event['id']}", json={"name": "Renamed"}, headers=admin_headers)
    assert (await snapshots.event_snapshot(app, event["id"])).name == "Renamed"
    await create_tier(client, admin_headers, event["id"])
    assert len((await snapshots.event_snapshot(app, event["id"])).tiers) == 1


# -- tiers ----------------------------------------------------------------------------------

async def test_creating_a_tier_answers_201_with_counters_and_default_limit(client, admin_headers):
    event = await create_event(client, admin_headers)
    resp = await client.post("/admin/tiers", json=tier_body(event["id"]), headers=admin_headers)
    assert resp.status == 201
    body = await resp.json()
    AdminTier.model_validate(body)
    assert resp.headers["Location"] == f"/admin/tiers/{body['id']}"
    assert (body["event_id"], body["per_user_limit"], body["sold"], body["held"]) == (event["id"], 4, 0, 0)


TIER_FIELD_RULES = [
    ("name", ""), ("name", "  "), ("name", "n" * 101),
    ("price_cents", -1), ("price_cents", 100_000_001), ("price_cents", "100"), ("price_cents", 9.99), ("price_cents", None),
    ("capacity", 0), ("capacity", 1_000_001), ("capacity", True),
    ("per_user_limit", 0), ("per_user_limit", 101),
    ("event_id", "not-a-uuid"), ("event_id", None),
    ("sold", 5),
]


@pytest.mark.parametrize(("field", "value"), TIER_FIELD_RULES)
async def test_each_tier_field_rule_is_a_422_naming_the_field(client, admin_headers, field, value):
    event = await create_event(client, admin_headers)
    resp = await client.post("/admin/tiers", json={**tier_body(event["id"]), field: value}, headers=admin_headers)
    assert resp.status == 422, await resp.text()
    assert field in fields(await resp.json())


async def test_a_tier_for_an_unknown_event_is_a_422_naming_event_id(client, admin_headers):
    resp = await client.post("/admin/tiers", json=tier_body(str(uuid.uuid4())), headers=admin_headers)
    assert resp.status == 422
    assert fields(await resp.json()) == ["event_id"]


@pytest.mark.parametrize(("start", "final"), [("on_sale", "closed"), ("draft", "canceled")])
async def test_no_tier_can_be_added_to_a_closed_or_canceled_event(client, admin_headers, start, final):
    event = await create_event(client, admin_headers, status=start)
    await client.patch(f"/admin/events/{event['id']}", json={"status": final}, headers=admin_headers)
    resp = await client.post("/admin/tiers", json=tier_body(event["id"]), headers=admin_headers)
    assert resp.status == 409


async def test_tiers_are_listed_by_price_for_one_event_or_all(client, admin_headers):
    first, second = await create_event(client, admin_headers), await create_event(client, admin_headers, name="Other")
    await create_tier(client, admin_headers, first["id"], name="Pricey", price_cents=90_000)
    await create_tier(client, admin_headers, first["id"], name="Cheap", price_cents=1_000)
    await create_tier(client, admin_headers, second["id"], name="Elsewhere", price_cents=5_000)
    resp = await client.get("/admin/tiers", params={"event_id": first["id"]}, headers=admin_headers)
    body = await resp.json()
    AdminTierList.model_validate(body)
    assert [t["name"] for t in body] == ["Cheap", "Pricey"]
    everything = await (await client.get("/admin/tiers", headers=admin_headers)).json()
    assert [t["name"] for t in everything] == ["Cheap", "Elsewhere", "Pricey"]


@pytest.mark.parametrize("params", [{"event_id": "nope"}, {"colour": "red"}])
async def test_a_bad_tier_list_query_is_a_400_naming_the_parameter(client, admin_headers, params):
    resp = await client.get("/admin/tiers", params=params, headers=admin_headers)
    assert resp.status == 400
    assert fields(await resp.json()) == [f"query.{next(iter(params))}"]


async def test_a_tier_can_be_read_back(client, admin_headers):
    event = await create_event(client, admin_headers)
    tier = await create_tier(client, admin_headers, event["id"])
    resp = await client.get(f"/admin/tiers/{tier['id']}", headers=admin_headers)
    assert (resp.status, await resp.json()) == (200, tier)


async def test_patching_a_tier_changes_only_the_sent_fields(client, admin_headers):
    event = await create_event(client, admin_headers)
    tier = await create_tier(client, admin_headers, event["id"], per_user_limit=2)
    resp = await client.patch(f"/admin/tiers/{tier['id']}", json={"price_cents": 19_900, "capacity": 650}, headers=admin_headers)
    body = await resp.json()
    assert (resp.status, body["price_cents"], body["capacity"], body["per_user_limit"]) == (200, 19_900, 650, 2)


async def test_capacity_below_sold_plus_held_is_409_and_equal_is_fine(client, admin_headers):
    event = await create_event(client, admin_headers)
    tier = await create_tier(client, admin_headers, event["id"], capacity=100)
    await set_counters(client, tier["id"], sold=40, held=20)
    resp = await client.patch(f"/admin/tiers/{tier['id']}", json={"capacity": 59}, headers=admin_headers)
    assert resp.status == 409
    problem = await resp.json()
    assert (problem["sold"], problem["held"], fields(problem)) == (40, 20, ["capacity"])
    resp = await client.patch(f"/admin/tiers/{tier['id']}", json={"capacity": 60}, headers=admin_headers)
    assert (resp.status, (await resp.json())["capacity"]) == (200, 60)


@pytest.mark.parametrize(("field", "value"), [
    ("per_user_limit", 0), ("per_user_limit", None), ("capacity", 0), ("price_cents", -5), ("name", ""), ("event_id", str(uuid.uuid4())),
])
async def test_each_tier_patch_rule_is_a_422_naming_the_field(client, admin_headers, field, value):
    event = await create_event(client, admin_headers)
    tier = await create_tier(client, admin_headers, event["id"])
    resp = await client.patch(f"/admin/tiers/{tier['id']}", json={field: value}, headers=admin_headers)
    assert resp.status == 422
    assert field in fields(await resp.json())


# -- bodies ---------------------------------------------------------------------------------

async def test_a_body_over_the_size_limit_is_413(client, admin_headers, settings):
    body = event_body(description="x" * (settings.max_body_bytes + 1))
    resp = await client.post("/admin/events", json=body, headers=admin_headers)
    assert resp.status == 413


async def test_a_body_that_is_not_json_is_415(client, admin_headers):
    resp = await client.post("/admin/events", data="name=x", headers={**admin_headers, "Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415
    assert fields(await resp.json()) == ["header.Content-Type"]


@pytest.mark.parametrize("raw", [b'{"name": "x",', b"[1, 2]", b'"text"', b""])
async def test_malformed_or_non_object_json_is_400_naming_the_body(client, admin_headers, raw):
    event = await create_event(client, admin_headers)
    headers = {**admin_headers, "Content-Type": "application/json"}
    for resp in (await client.post("/admin/events", data=raw, headers=headers),
                 await client.patch(f"/admin/events/{event['id']}", data=raw, headers=headers)):
        assert resp.status == 400
        assert fields(await resp.json()) == ["body"]


async def test_a_new_capacity_reaches_the_reservation_gate_at_once(aiohttp_client, app, admin_headers, redis, keys):
    from models.inventory import rebuild_counters

    client = await aiohttp_client(app)
    event = await create_event(client, admin_headers)
    tier = await create_tier(client, admin_headers, event["id"], capacity=100)
    await set_counters(client, tier["id"], sold=40, held=20)
    rebuild_counters(redis, keys, event["id"])
    assert redis.hget(keys.stock(event["id"]), tier["id"]) == "40"
    resp = await client.patch(f"/admin/tiers/{tier['id']}", json={"capacity": 150}, headers=admin_headers)
    assert resp.status == 200
    assert redis.hget(keys.stock(event["id"]), tier["id"]) == "90"


async def test_a_capacity_change_is_kept_when_redis_is_down_and_the_sweep_applies_it_later(client, admin_headers):
    # The app's own blocking client points at a Redis that is not there (unit tests).
    event = await create_event(client, admin_headers)
    tier = await create_tier(client, admin_headers, event["id"], capacity=100)
    resp = await client.patch(f"/admin/tiers/{tier['id']}", json={"capacity": 150}, headers=admin_headers)
    assert (resp.status, (await resp.json())["capacity"]) == (200, 150)
