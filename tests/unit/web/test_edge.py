"""The edge step (web.middleware) wraps every route's handler, and the requests no route takes
too: 404, 405, CORS preflights, 413 and HEAD get problem+json and our headers without any aiohttp
middleware in the app."""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.conftest import make_settings
from web import hooks, ratelimit

ORIGIN = "http://localhost:5173"


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, cors_origins=(ORIGIN,), max_body_bytes=1024)


def _ours(resp) -> None:
    assert len(resp.headers["X-Request-Id"]) == 32
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_the_app_runs_no_aiohttp_middleware(settings, aredis, stub_broker):
    from web.app import create_app

    assert list(create_app(settings, redis=aredis, broker=stub_broker, bind_db=False).middlewares) == []


async def test_an_unknown_path_is_a_404_problem_with_our_headers(client):
    resp = await client.post("/no/such/path", headers={"Origin": ORIGIN})
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["code"] == "not_found" and body["instance"] == "/no/such/path"
    assert body["request_id"] == resp.headers["X-Request-Id"]
    _ours(resp)


async def test_a_known_path_with_another_method_is_a_405_problem_naming_the_allowed_methods(client):
    resp = await client.delete("/events/x/waiting-room/status", headers={"Origin": ORIGIN})
    assert resp.status == 405
    assert resp.content_type == "application/problem+json"
    assert resp.headers["Allow"] == "GET,HEAD"
    assert (await resp.json())["code"] == "method_not_allowed"
    _ours(resp)


async def test_a_head_request_no_route_takes_is_a_404_with_our_headers_and_no_body(client):
    resp = await client.head("/no/such/path", headers={"Origin": ORIGIN})
    assert resp.status == 404
    assert await resp.read() == b""
    _ours(resp)


@pytest.mark.parametrize("path", ["/no/such/path", "/events/x/waiting-room/status", "/events/x/waiting-room/join"])
async def test_a_preflight_is_answered_for_any_path(client, path):
    resp = await client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert resp.status == 204
    assert "X-User-Id" in resp.headers["Access-Control-Allow-Headers"]
    _ours(resp)


async def test_a_body_over_the_limit_is_a_413_on_a_path_no_route_takes(client):
    resp = await client.post("/no/such/path", data=b"x" * 2048, headers={"Origin": ORIGIN})
    assert resp.status == 413
    assert (await resp.json())["code"] == "payload_too_large"
    _ours(resp)


async def test_a_hook_middleware_runs_inside_the_edge_for_routed_and_unrouted_requests(
        monkeypatch, aiohttp_client, settings, aredis, stub_broker, db, runtime):
    from web.app import create_app

    @web.middleware
    async def stamp(request, handler):
        if request.path == "/refused":
            raise web.HTTPForbidden()
        response = await handler(request)
        response.headers["X-Hooked"] = "yes"
        return response

    monkeypatch.setattr(hooks, "outer_middlewares", lambda: [stamp])
    client = await aiohttp_client(create_app(settings, redis=aredis, broker=stub_broker, bind_db=False))
    assert (await client.get("/health")).headers["X-Hooked"] == "yes"
    assert (await client.get("/no/such/path")).headers.get("X-Hooked") is None  # the 404 is raised through it
    refused = await client.get("/refused", headers={"Origin": ORIGIN})
    assert refused.status == 403 and refused.content_type == "application/problem+json"
    _ours(refused)


async def test_a_route_added_after_the_app_was_built_gets_the_edge_and_is_not_shadowed(app, aiohttp_client):
    async def late(request):
        return web.json_response({"late": True})

    app.router.add_get("/late", late)
    client = await aiohttp_client(app)
    resp = await client.get("/late", headers={"Origin": ORIGIN})
    assert resp.status == 200 and await resp.json() == {"late": True}
    _ours(resp)


def test_the_edge_counts_reserve_and_checkout_but_a_join_counts_its_own():
    assert ratelimit.edge_scope("POST", "/events/{id}/reservations") == "reserve"
    assert ratelimit.edge_scope("POST", "/checkout/sessions") == "checkout"
    assert ratelimit.edge_scope("POST", "/events/{id}/waiting-room/join") is None
    assert ratelimit.scope_for("POST", "/events/{id}/waiting-room/join") == "join"
    assert ratelimit.edge_scope("GET", "/events/{id}/reservations") is None
