"""Answers that depend on who asks are never cached (issue 12, finding 7); public ones stay public."""

from __future__ import annotations

import uuid

import pytest

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
