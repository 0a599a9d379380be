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


async def test_the_docs_page_has_a_content_security_policy_that_allows_only_its_own_style(client):
    import base64
    import hashlib
    import re

    resp = await client.get("/docs")
    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    style = re.search(r"<style>(.*?)</style>", await resp.text(), re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
