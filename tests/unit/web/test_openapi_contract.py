"""The OpenAPI document agrees with behaviour (issue 12, finding 8): every route is walked with
the refusals that do not depend on its handler (a malformed X-User-Id, a bad body, a spent rate
limit, an unknown-event flood) and each answer's status must be one the document lists for that
route; the schemas accept what the server accepts (6796.0 is an integer) and refuse what it
refuses (an empty Idempotency-Key, X-User-Id or token, an empty PATCH of the waves)."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest

from models.catalog import rules
from models.checkout.idempotency import parse_key
from models.errors import InvalidInput
from models.identity import USER_ID_RE
from tests.factories import make_event
from tests.unit.web.catalog_helpers import create_event, create_tier, event_body
from web.appkeys import SETTINGS
from web.openapi import IDEMPOTENCY_KEY_SCHEMA, USER_ID_SCHEMA
from web.schemas.catalog import EventCreate

_ID = "00000000-0000-4000-8000-000000000000"


async def _document(client) -> dict:
    return await (await client.get("/openapi.json")).json()


def _operations(document: dict):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _url(path: str) -> str:
    return re.sub(r"{\w+}", _ID, path)


def _headers(operation: dict, admin_headers: dict) -> dict[str, str]:
    headers = dict(admin_headers) if operation.get("security") == [{"adminToken": []}] else {}
    for param in operation["parameters"]:
        if param["in"] == "header" and param["required"]:
            headers[param["name"]] = {"X-User-Id": "fan-1", "Idempotency-Key": "key-1"}.get(param["name"], "x")
    return headers


@pytest.fixture
def make_client(aiohttp_client, settings, aredis, db, stub_broker, runtime):
    async def make(**overrides):
        from web.app import create_app

        return await aiohttp_client(create_app(settings.with_(**overrides), redis=aredis, broker=stub_broker,
                                               bind_db=False))

    return make


async def test_a_malformed_x_user_id_gets_a_documented_400_on_every_route_that_reads_it(client, admin_headers):
    document = await _document(client)
    walked = []
    for method, path, operation in _operations(document):
        if not any(p["in"] == "header" and p["name"] == "X-User-Id" for p in operation["parameters"]):
            continue
        headers = {**_headers(operation, admin_headers), "X-User-Id": "two words"}
        resp = await client.request(method, _url(path), headers=headers, json={})
        assert resp.status in (400, 404), f"{method} {path}: {resp.status}"  # 404: the event is looked up first
        assert "400" in operation["responses"] and str(resp.status) in operation["responses"], f"{method} {path}"
        if resp.status == 400:
            walked.append(path)
    assert "/reservations/{id}" in walked and "/me/orders" in walked


async def test_a_bad_body_gets_a_documented_status_on_every_route_that_takes_one(client, admin_headers):
    document = await _document(client)
    undocumented = []
    for method, path, operation in _operations(document):
        if "requestBody" not in operation:
            continue
        headers = _headers(operation, admin_headers)
        attempts = {
            "malformed JSON": {"data": b"{", "headers": {**headers, "Content-Type": "application/json"}},
            "not JSON": {"data": b"x", "headers": {**headers, "Content-Type": "text/plain"}},
            "an array": {"data": b"[]", "headers": {**headers, "Content-Type": "application/json"}},
            "an unknown field": {"data": b'{"surprise": 1}', "headers": {**headers, "Content-Type": "application/json"}},
        }
        for name, kwargs in attempts.items():
            resp = await client.request(method, _url(path), **kwargs)
            assert 400 <= resp.status < 500, f"{method} {path} with {name}: {resp.status}"
            if str(resp.status) not in operation["responses"]:
                undocumented.append(f"{method} {path} with {name}: {resp.status}")
        for status in ("408", "413", "415"):
            assert status in operation["responses"], f"{method} {path} does not document {status}"
    assert undocumented == []


async def test_a_body_too_large_gets_a_documented_413_on_every_route_that_takes_none(client, admin_headers):
    """The edge reads any body a request brings, under MAX_BODY_BYTES, before the route runs."""
    document = await _document(client)
    too_large = b"x" * (client.server.app[SETTINGS].max_body_bytes + 1)
    undocumented = []
    for method, path, operation in _operations(document):
        if "requestBody" in operation:
            continue
        resp = await client.request(method, _url(path), data=too_large, headers=_headers(operation, admin_headers))
        assert resp.status == 413, f"{method} {path}: {resp.status}"
        for status in ("408", "413"):
            if status not in operation["responses"]:
                undocumented.append(f"{method} {path}: {status}")
    assert undocumented == []


async def test_join_reserve_open_a_session_and_confirm_document_the_429_they_answer(make_client):
    client = await make_client(rate_join_per_min=1, rate_reserve_per_min=1, rate_checkout_per_min=1,
                               rate_per_ip_per_min=100)
    document = await _document(client)
    routes = [("POST", "/events/{id}/waiting-room/join"), ("POST", "/events/{id}/reservations"),
              ("POST", "/checkout/sessions"), ("POST", "/checkout/confirm")]
    # A join is counted by its own script in the event's room (issue 14): it needs a known event.
    joinable = str(make_event().id)
    for method, path in routes:
        responses = []
        url = path.replace("{id}", joinable) if path.endswith("/join") else _url(path)
        for _ in range(2):
            resp = await client.request(method, url, headers={"X-User-Id": "fan-1", "Idempotency-Key": "k"}, json={})
            responses.append(resp)
        assert responses[-1].status == 429, f"{method} {path}"
        assert responses[-1].headers["Retry-After"].isdigit()
        documented = document["paths"][path][method.lower()]["responses"]
        assert "429" in documented, f"{method} {path}"
        assert documented["429"]["headers"]["Retry-After"]["required"] is True


async def test_every_route_that_looks_an_event_up_documents_the_429_of_an_unknown_event_flood(make_client):
    client = await make_client(rate_unknown_event_per_min=1)
    document = await _document(client)
    answered = []
    for method, path, operation in _operations(document):
        if not path.startswith("/events/{id}/"):
            continue
        statuses = set()
        for _ in range(2):
            url = path.replace("{id}", str(uuid.uuid4()))
            resp = await client.request(method, url + ("?token=t" if path.endswith("/status") else ""),
                                        headers={"X-User-Id": "fan-1"}, json={"tier_id": _ID, "quantity": 1, "token": "t"})
            statuses.add(resp.status)
        for status in statuses:
            assert str(status) in operation["responses"], f"{method} {path}: {status}"
        if 429 in statuses:
            answered.append(f"{method} {path}")
    assert "POST /events/{id}/waiting-room/join" in answered and "POST /events/{id}/reservations" in answered


async def test_every_route_documents_a_503_unless_it_reads_only_the_process(client):
    document = await _document(client)
    silent = {f"{m} {p}" for m, p, op in _operations(document) if "503" not in op["responses"]}
    assert silent == {"GET /", "GET /admin", "GET /docs", "GET /openapi.json", "GET /ui/{path}", "GET /metrics"}


def test_the_x_user_id_schema_says_what_the_server_takes():
    pattern = re.compile(USER_ID_SCHEMA["pattern"])
    for value in ["fan-1", "a", "x" * 128, "two words", "", "caf\u00e9", "tab\there", "x" * 129, "\x7f"]:
        documented = pattern.match(value) is not None and 1 <= len(value) <= USER_ID_SCHEMA["maxLength"]
        assert documented == (USER_ID_RE.match(value) is not None), repr(value)


def test_the_idempotency_key_schema_says_what_the_server_takes():
    pattern = re.compile(IDEMPOTENCY_KEY_SCHEMA["pattern"])
    for length in range(1, 5):
        for chars in itertools.product('"a \x7f', repeat=length):
            value = "".join(chars)
            if value != value.strip():
                continue  # HTTP removes a header value's surrounding whitespace before anyone sees it
            try:
                accepted = parse_key(value, required=True) is not None
            except InvalidInput:
                accepted = False
            assert (pattern.match(value) is not None) == accepted, repr(value)


async def test_an_empty_idempotency_key_or_token_is_outside_the_document(client):
    document = await _document(client)
    session = document["paths"]["/checkout/sessions"]["post"]
    key = next(p for p in session["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] is True and key["schema"]["minLength"] == 1
    status = document["paths"]["/events/{id}/waiting-room/status"]["get"]
    token = next(p for p in status["parameters"] if p["name"] == "token")
    assert token["schema"]["minLength"] == 1
    reservation = document["components"]["schemas"]["ReservationCreate"]["properties"]["token"]
    assert reservation["minLength"] == 1


async def test_an_integer_with_a_zero_fraction_is_an_integer_and_is_taken(client, admin_headers):
    event = await create_event(client, admin_headers)
    resp = await client.post("/admin/tiers", headers=admin_headers, json={
        "event_id": event["id"], "name": "Floor", "price_cents": 6796.0, "capacity": 100.0, "per_user_limit": 4.0})
    assert resp.status == 201, await resp.text()
    tier = await resp.json()
    assert (tier["price_cents"], tier["capacity"], tier["per_user_limit"]) == (6796, 100, 4)
    assert isinstance(tier["price_cents"], int)


@pytest.mark.parametrize("value", [6796.5, True, "6796", 1e300])
async def test_a_number_with_a_fraction_a_boolean_or_a_string_is_not_an_integer(client, admin_headers, value):
    event = await create_event(client, admin_headers)
    tier = await create_tier(client, admin_headers, event["id"])
    resp = await client.patch(f"/admin/tiers/{tier['id']}", headers=admin_headers, json={"price_cents": value})
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "price_cents"


async def test_the_integers_of_the_document_state_their_bounds_as_minimum_and_maximum(client):
    schemas = (await _document(client))["components"]["schemas"]
    capacity = schemas["TierCreate"]["properties"]["capacity"]
    assert capacity == {**capacity, "type": "integer", "minimum": rules.CAPACITY_MIN, "maximum": rules.CAPACITY_MAX}
    assert "ge" not in capacity and "le" not in capacity


async def test_an_empty_patch_of_the_waves_is_outside_the_document_and_refused(client, admin_headers):
    document = await _document(client)
    assert document["components"]["schemas"]["WavePatch"]["minProperties"] == 1
    event = await create_event(client, admin_headers, wave_size=50)
    resp = await client.patch(f"/admin/events/{event['id']}/status", headers=admin_headers, json={})
    assert resp.status == 422


async def test_a_null_wave_size_in_the_waves_patch_goes_back_to_the_server_default(client, admin_headers):
    event = await create_event(client, admin_headers, wave_size=50)
    resp = await client.patch(f"/admin/events/{event['id']}/status", headers=admin_headers, json={"wave_size": None})
    assert resp.status == 200, await resp.text()
    stored = await (await client.get(f"/admin/events/{event['id']}", headers=admin_headers)).json()
    assert stored["wave_size"] is None


def test_the_timestamp_pattern_allows_exactly_the_years_the_server_takes():
    pattern = re.compile(EventCreate.model_json_schema()["properties"]["starts_at"]["pattern"])
    for year in (rules.YEAR_MIN - 1, rules.YEAR_MIN, rules.YEAR_MAX, rules.YEAR_MAX + 1):
        stamp = f"{year:04d}-06-01T12:00:00Z"
        body = event_body(starts_at=stamp, on_sale_at=f"{year:04d}-05-01T12:00:00Z")
        try:
            EventCreate.model_validate(body)
            taken = True
        except ValueError:
            taken = False
        assert (pattern.match(stamp) is not None) == taken, year


async def test_cross_field_rules_are_stated_in_the_descriptions(client):
    schemas = (await _document(client))["components"]["schemas"]
    assert "before starts_at" in schemas["EventCreate"]["properties"]["on_sale_at"]["description"]
    assert "per_user_limit" in schemas["ReservationCreate"]["properties"]["quantity"]["description"]
    assert "per_user_limit" in schemas["WaitlistJoin"]["properties"]["quantity"]["description"]
    assert "sold + held" in schemas["TierPatch"]["properties"]["capacity"]["description"]
