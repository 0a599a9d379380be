"""Rate limits on join, reservations and checkout: 429 problems with Retry-After and the IETF
RateLimit / RateLimit-Policy fields; a Redis outage lets requests through."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from models.errors import Conflict
from models.metrics import RATE_LIMITER_FAIL_OPEN
from models.ratelimit import RateLimiter
from models.waiting_room.batching import CommandBatcher
from web.appkeys import KEYS, RATE_LIMITER


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _conflict(request: web.Request) -> web.Response:
    raise Conflict("nope")


def _app(settings, aredis, stub_broker, **limits):
    from web.app import create_app

    app = create_app(settings.with_(**limits), redis=aredis, broker=stub_broker, bind_db=False)
    # Stand-ins for the checkout routes: the limiter matches on method and path.
    app.router.add_post("/checkout/test-ok", _ok)
    app.router.add_post("/checkout/test-conflict", _conflict)
    return app


@pytest.fixture
def make_client(aiohttp_client, settings, aredis, db, stub_broker, runtime):
    async def make(*, frozen_clock: bool = False, **limits):
        """A client of the app with ``limits``; with ``frozen_clock`` its checks all count at one
        instant, so no quota refills between a test's requests however slow the machine."""
        app = _app(settings, aredis, stub_broker, **limits)
        if frozen_clock:
            now_ms = int(time.time() * 1000)
            app[RATE_LIMITER] = RateLimiter(redis=aredis, keys=app[KEYS], timeout_s=settings.rate_check_timeout_s,
                                            clock_ms=lambda: now_ms)
        return await aiohttp_client(app)

    return make


def _join_path() -> str:
    return f"/events/{uuid.uuid4()}/waiting-room/join"


async def test_join_over_the_user_limit_is_a_429_problem_with_retry_after_and_ratelimit_fields(make_client):
    client = await make_client(rate_join_per_min=2, rate_per_ip_per_min=100, frozen_clock=True)
    path = _join_path()
    for _ in range(2):
        resp = await client.post(path, headers={"X-User-Id": "alice"})
        assert resp.status != 429
    resp = await client.post(path, headers={"X-User-Id": "alice"})
    assert resp.status == 429
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["code"] == "rate_limited" and body["limits"] == ["join"]
    assert 29 <= int(resp.headers["Retry-After"]) <= 30
    assert resp.headers["RateLimit-Policy"] == '"join";q=2;w=60, "ip";q=100;w=60'
    assert resp.headers["RateLimit"].startswith('"join";r=0;t=60, "ip";r=98;')


async def test_allowed_responses_carry_the_ratelimit_fields(make_client):
    client = await make_client(rate_checkout_per_min=5, rate_per_ip_per_min=0)
    resp = await client.post("/checkout/test-ok", headers={"X-User-Id": "alice"})
    assert resp.status == 200
    assert resp.headers["RateLimit-Policy"] == '"checkout";q=5;w=60'
    assert resp.headers["RateLimit"] == '"checkout";r=4;t=12'


async def test_domain_errors_keep_the_ratelimit_fields(make_client):
    client = await make_client(rate_checkout_per_min=5)
    resp = await client.post("/checkout/test-conflict", headers={"X-User-Id": "alice"})
    assert resp.status == 409
    assert resp.headers["RateLimit"] == '"checkout";r=4;t=12'


async def test_the_address_limit_applies_across_users(make_client):
    client = await make_client(rate_reserve_per_min=10, rate_per_ip_per_min=2)
    path = f"/events/{uuid.uuid4()}/reservations"
    statuses = [(await client.post(path, headers={"X-User-Id": f"fan-{i}"})).status for i in range(3)]
    assert 429 not in statuses[:2] and statuses[2] == 429


async def test_a_malformed_user_id_is_still_limited_by_address(make_client):
    client = await make_client(rate_join_per_min=1, rate_per_ip_per_min=1)
    path = _join_path()
    await client.post(path, headers={"X-User-Id": "bad id"})
    resp = await client.post(path, headers={"X-User-Id": "bad id"})
    assert resp.status == 429
    assert (await resp.json())["limits"] == ["ip"]


async def test_forwarded_for_is_ignored_unless_trusted(make_client):
    client = await make_client(rate_per_ip_per_min=1)
    await client.post("/checkout/test-ok", headers={"X-Forwarded-For": "203.0.113.1"})
    resp = await client.post("/checkout/test-ok", headers={"X-Forwarded-For": "203.0.113.2"})
    assert resp.status == 429


async def test_a_trusted_proxy_s_last_forwarded_hop_is_the_client(make_client):
    client = await make_client(rate_per_ip_per_min=1, trust_forwarded_for=True)
    first = await client.post("/checkout/test-ok", headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.1"})
    # A client cannot escape by writing its own first hop: the proxy's last one counts.
    spoofed = await client.post("/checkout/test-ok", headers={"X-Forwarded-For": "198.51.100.10, 203.0.113.1"})
    other = await client.post("/checkout/test-ok", headers={"X-Forwarded-For": "203.0.113.2"})
    assert [first.status, spoofed.status, other.status] == [200, 429, 200]


async def test_reads_and_other_routes_are_not_limited(make_client):
    client = await make_client(rate_join_per_min=1, rate_per_ip_per_min=1)
    for _ in range(3):
        resp = await client.get("/health")
        assert resp.status == 200 and "RateLimit" not in resp.headers


async def test_limits_at_zero_send_no_ratelimit_fields(make_client):
    client = await make_client()
    resp = await client.post("/checkout/test-ok", headers={"X-User-Id": "alice"})
    assert resp.status == 200 and "RateLimit" not in resp.headers


async def test_a_redis_outage_lets_limited_requests_through(aiohttp_client, settings, aredis, db, stub_broker, runtime):
    app = _app(settings, aredis, stub_broker, rate_checkout_per_min=1, rate_per_ip_per_min=1)
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=AsyncRetry(NoBackoff(), 0))
    app[RATE_LIMITER] = RateLimiter(redis=down, keys=app[KEYS], timeout_s=settings.rate_check_timeout_s)
    client = await aiohttp_client(app)
    before = RATE_LIMITER_FAIL_OPEN._value.get()
    statuses = [(await client.post("/checkout/test-ok", headers={"X-User-Id": "alice"})).status for _ in range(3)]
    await down.aclose()
    assert statuses == [200, 200, 200]
    assert RATE_LIMITER_FAIL_OPEN._value.get() == before + 3


async def test_a_check_redis_does_not_answer_within_rate_check_timeout_s_lets_the_request_through(make_client,
                                                                                                  monkeypatch):
    def unanswered(self, script, keys, args):  # a hung server, or the client's own retries
        reply = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(10, lambda: reply.done() or reply.set_exception(
            AssertionError("the check waited past RATE_CHECK_TIMEOUT_S")))
        return reply

    monkeypatch.setattr(CommandBatcher, "run_script", unanswered)  # the web tier's checks travel in its batcher
    client = await make_client(rate_checkout_per_min=1, rate_check_timeout_s=0.05)
    before = RATE_LIMITER_FAIL_OPEN._value.get()
    statuses = [(await client.post("/checkout/test-ok", headers={"X-User-Id": "alice"})).status for _ in range(2)]
    assert statuses == [200, 200]
    assert RATE_LIMITER_FAIL_OPEN._value.get() == before + 2
