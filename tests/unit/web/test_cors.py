"""CORS answers only the configured origins."""

from __future__ import annotations


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
