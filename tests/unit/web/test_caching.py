"""Answers that depend on who asks are never cached (issue 12, finding 7); public ones stay public."""

from __future__ import annotations

import uuid

import pytest
from aiohttp import web

from tests.unit.web.test_waiting_room import make_event
from web import caching
from web.handlers import waiting_room

FAN = {"X-User-Id": "fan-1"}


def assert_private(resp) -> None:
    assert resp.headers["Cache-Control"] in {"no-store"} or resp.headers["Cache-Control"].startswith("private"), resp.headers
    vary = {v.strip() for v in resp.headers["Vary"].split(",")}
    assert {"X-User-Id", "Authorization"} <= vary
    assert "public" not in resp.headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/me/tickets", "/me/orders"])
async def test_a_fans_lists_are_not_stored_by_any_cache(client, db, path):
    resp = await client.get(path, headers=FAN)
    assert resp.status == 200
    assert_private(resp)
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/checkout/sessions/{}", "/reservations/{}", "/tickets/{}/qr.svg"])
async def test_errors_of_per_user_routes_are_private_too(client, db, path):
    resp = await client.get(path.format(uuid.uuid4().hex), headers=FAN)
    assert resp.status == 404
    assert_private(resp)


async def test_admin_answers_are_private_whether_allowed_or_refused(client, db, admin_headers):
    ok = await client.get("/admin/events", headers=admin_headers)
    refused = await client.get("/admin/events")
    assert (ok.status, refused.status) == (200, 401)
    assert_private(ok)
    assert_private(refused)


async def test_a_join_is_private_because_its_token_is_the_fans(client, db):
    event = make_event(on_sale_in_s=-5, status="on_sale")
    resp = await client.post(f"/events/{event.id}/waiting-room/join", headers=FAN)
    assert resp.status == 201
    assert_private(resp)


async def test_public_documents_are_not_marked_private(client, db):
    resp = await client.get("/events")
    assert resp.status == 200
    assert "no-store" not in resp.headers.get("Cache-Control", "")
    assert not caching.is_private(waiting_room.status)


def test_a_private_answer_keeps_the_vary_it_had_and_is_never_public():
    headers = {"Cache-Control": "public, max-age=60", "Vary": "Origin"}
    caching.private_headers(headers)
    assert headers == {"Cache-Control": "no-store", "Vary": "Origin, X-User-Id, Authorization"}


@pytest.mark.parametrize(("status", "event_status", "user"), [(404, None, "fan-1"), (409, "canceled", "fan-1"),
                                                              (400, "on_sale", "bad id")])
async def test_a_joins_refusals_are_private_like_its_answers(client, db, status, event_status, user):
    event_id = make_event(status=event_status).id if event_status else uuid.uuid4()
    resp = await client.post(f"/events/{event_id}/waiting-room/join", headers={"X-User-Id": user})
    assert resp.status == status and resp.content_type == "application/problem+json"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Vary"] == "X-User-Id, Authorization"


async def test_a_rejoin_is_private_like_the_first_join(client, db):
    path = f"/events/{make_event(on_sale_in_s=-5, status='on_sale').id}/waiting-room/join"
    first, again = [await client.post(path, headers=FAN) for _ in range(2)]
    assert (first.status, again.status) == (201, 200)
    assert [(r.headers["Cache-Control"], r.headers["Vary"]) for r in (first, again)] == \
        [("no-store", "X-User-Id, Authorization")] * 2


async def test_a_refusal_the_edge_counts_before_a_private_handler_is_private_too(
        aiohttp_client, settings, aredis, db, stub_broker, runtime):
    from web.app import create_app

    limited = settings.with_(rate_reserve_per_min=1, rate_per_ip_per_min=1)
    client = await aiohttp_client(create_app(limited, redis=aredis, broker=stub_broker, bind_db=False))
    path = f"/events/{uuid.uuid4()}/reservations"
    await client.post(path, headers=FAN)
    refused = await client.post(path, headers=FAN)
    assert refused.status == 429
    assert_private(refused)


async def test_a_bug_in_a_private_route_added_after_the_app_was_built_is_a_private_500(app, aiohttp_client):
    async def broken(request):
        raise RuntimeError("a bug")

    broken.__admin__ = True  # what web.auth marks an admin handler with
    app.router.add_get("/late-admin", broken)
    resp = await (await aiohttp_client(app)).get("/late-admin")
    assert resp.status == 500
    assert_private(resp)


async def test_a_public_route_added_after_the_app_was_built_is_not_marked_private(app, aiohttp_client):
    async def late(request):
        return web.json_response({"late": True})

    app.router.add_get("/late", late)
    resp = await (await aiohttp_client(app)).get("/late")
    assert resp.status == 200 and "Cache-Control" not in resp.headers and "Vary" not in resp.headers
