"""CORS answers only the configured origins."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, cors_origins=("http://localhost:5173", "http://localhost:8080"))


async def test_an_allowed_origin_gets_cors_headers(client):
    resp = await client.get("/health", headers={"Origin": "http://localhost:5173"})
    assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "Location" in resp.headers["Access-Control-Expose-Headers"]


async def test_a_preflight_from_an_allowed_origin_is_204(client):
    resp = await client.options(
        "/events", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
    )
    assert resp.status == 204
    assert "X-User-Id" in resp.headers["Access-Control-Allow-Headers"]


async def test_an_unknown_origin_gets_no_cors_headers(client):
    resp = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_an_allowed_origin_is_added_to_a_vary_the_handler_set(client):
    resp = await client.get("/health", headers={"Origin": "http://localhost:5173"})
    assert "Origin" in resp.headers["Vary"]


async def test_every_answer_carries_a_request_id_the_callers_when_safe_and_a_new_unique_one_otherwise(client):
    assert (await client.get("/health", headers={"X-Request-Id": "trace-42"})).headers["X-Request-Id"] == "trace-42"
    made = {(await client.get("/health", headers={"X-Request-Id": "bad id!"})).headers["X-Request-Id"] for _ in range(5)}
    assert len(made) == 5 and all(len(rid) == 32 and int(rid, 16) >= 0 for rid in made)


async def test_no_origin_gets_cors_headers_by_default(aiohttp_client, tmp_path, aredis, db, stub_broker, runtime):
    from web.app import create_app

    app = create_app(make_settings(tmp_path), redis=aredis, broker=stub_broker, bind_db=False)
    client = await aiohttp_client(app)
    resp = await client.get("/health", headers={"Origin": "http://localhost:5173"})
    assert "Access-Control-Allow-Origin" not in resp.headers
