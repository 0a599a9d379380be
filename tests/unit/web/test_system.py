"""Health, problem+json for unknown routes, OpenAPI document."""

from __future__ import annotations


async def test_health_reports_every_dependency_ok(client):
    resp = await client.get("/health")
    assert resp.status == 200
    body = await resp.json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}


async def test_deep_health_round_trips_the_echo_actor(client, stub_worker):
    resp = await client.get("/health?deep=1")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["worker"]["echo"] == "ok"


async def test_deep_health_without_a_worker_is_503_naming_the_worker(client):
    resp = await client.get("/health?deep=1")
    assert resp.status == 503
    body = await resp.json()
    assert "worker" in body["detail"]
    assert resp.headers["Retry-After"]


async def test_unknown_route_is_a_problem_document(client):
    resp = await client.get("/no/such/route")
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["status"] == 404 and body["type"] == "/problems/not_found"
    assert body["request_id"] == resp.headers["X-Request-Id"]


async def test_wrong_method_is_405_problem(client):
    resp = await client.delete("/health")
    assert resp.status == 405
    assert resp.content_type == "application/problem+json"


async def test_request_id_is_kept_when_sent(client):
    resp = await client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Request-Id"] == "abc-123"


async def test_unsafe_request_id_is_replaced(client):
    resp = await client.get("/health", headers={"X-Request-Id": "bad id\twith spaces"})
    assert resp.headers["X-Request-Id"] != "bad id\twith spaces"
    assert len(resp.headers["X-Request-Id"]) == 32
