"""Rate limits on join, reservations and checkout: 429 problems with Retry-After and the IETF
RateLimit / RateLimit-Policy fields; a Redis outage lets requests through. A join is counted by
its own script, per event (issue 14)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from models.db import database
from models.errors import Conflict
from models.metrics import RATE_LIMITER_FAIL_OPEN
from models.ratelimit import RateLimiter
from models.redis import lua_source
from models.waiting_room.batching import CommandBatcher
from tests.factories import make_event
from tests.unit.models.test_waiting_room_batching import command_of
from web import eventcache
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
    async def make(**limits):
        """A client of the app with ``limits``."""
        app = _app(settings, aredis, stub_broker, **limits)
        return await aiohttp_client(app)

    return make


@pytest.fixture
def batched(monkeypatch):
    """Every command the web tier's CommandBatcher sends (joins, rate-limit checks, lookups), on
    fakeredis as on a real server or cluster."""
    seen: list[tuple] = []
    original = CommandBatcher._add

    def add(self, command, script):
        seen.append(command_of(command))
        return original(self, command, script)

    monkeypatch.setattr(CommandBatcher, "_add", add)
    return seen


@pytest.fixture
def statements(monkeypatch):
    """SQL statements sent to the database, counted."""
    count = [0]
    cls = type(database.obj)
    original = cls.execute_sql

    def execute_sql(self, *args, **kwargs):
        count[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "execute_sql", execute_sql)
    return count


def _join_path(event=None) -> str:
    return f"/events/{(event or make_event()).id}/waiting-room/join"


def _room(redis, keys, event) -> dict:
    """The event's room hash, journal and pre-queue bucket set, as they stand."""
    event_id = str(event.id)
    return {"room": redis.hgetall(keys.room(event_id)), "journal": redis.lrange(keys.room_journal(event_id), 0, -1),
            "pb": redis.smembers(keys.room_prequeue_buckets(event_id))}


async def test_join_over_the_user_limit_is_a_429_problem_with_retry_after_and_ratelimit_fields(make_client):
    client = await make_client(rate_join_per_min=2, rate_per_ip_per_min=100)
    path = _join_path()
    for _ in range(2):
        resp = await client.post(path, headers={"X-User-Id": "alice"})
        assert resp.status in (200, 201)
    resp = await client.post(path, headers={"X-User-Id": "alice"})
    assert resp.status == 429
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["code"] == "rate_limited" and body["limits"] == ["join"]
    # The join's limits count on Redis's clock: the three joins may be a moment apart.
    assert 28 <= int(resp.headers["Retry-After"]) <= 30
    assert resp.headers["RateLimit-Policy"] == '"join";q=2;w=60, "ip";q=100;w=60'
    join_field, ip_field = resp.headers["RateLimit"].split(", ")
    assert join_field.startswith('"join";r=0;t=') and 58 <= int(join_field.rsplit("=", 1)[1]) <= 60
    assert ip_field.startswith('"ip";r=98;')


async def test_a_refused_join_leaves_the_room_unchanged(make_client, redis, keys):
    client = await make_client(rate_join_per_min=10, rate_per_ip_per_min=2)
    event = make_event()
    for fan in ("fan-1", "fan-2"):
        assert (await client.post(_join_path(event), headers={"X-User-Id": fan})).status == 201
    before = _room(redis, keys, event)
    resp = await client.post(_join_path(event), headers={"X-User-Id": "fan-3"})
    assert resp.status == 429 and (await resp.json())["limits"] == ["ip"]
    assert "Retry-After" in resp.headers and resp.headers["RateLimit"].startswith('"join";r=10;t=0, "ip";r=0;')
    assert _room(redis, keys, event) == before and len(before["journal"]) == 2


async def test_an_allowed_join_carries_the_ratelimit_fields(make_client):
    client = await make_client(rate_join_per_min=2, rate_per_ip_per_min=600)
    resp = await client.post(_join_path(), headers={"X-User-Id": "alice"})
    assert resp.status == 201
    assert resp.headers["RateLimit-Policy"] == '"join";q=2;w=60, "ip";q=600;w=60'
    assert resp.headers["RateLimit"] == '"join";r=1;t=30, "ip";r=599;t=1'


async def test_a_join_s_quotas_count_per_event(make_client):
    client = await make_client(rate_join_per_min=1, rate_per_ip_per_min=1)
    first, other = make_event(), make_event()
    assert (await client.post(_join_path(first), headers={"X-User-Id": "alice"})).status == 201
    refused = await client.post(_join_path(first), headers={"X-User-Id": "alice"})
    assert refused.status == 429 and (await refused.json())["limits"] == ["join", "ip"]
    # Neither the user's nor the address's spent quota for the first event refuses a join of another.
    resp = await client.post(_join_path(other), headers={"X-User-Id": "alice"})
    assert resp.status == 201 and resp.headers["RateLimit"].startswith('"join";r=0;t=60, "ip";r=0;')


async def test_a_join_s_quotas_are_apart_from_reserve_and_checkout(make_client):
    client = await make_client(rate_join_per_min=5, rate_checkout_per_min=5, rate_per_ip_per_min=1)
    assert (await client.post("/checkout/test-ok", headers={"X-User-Id": "alice"})).status == 200
    assert (await client.post("/checkout/test-ok", headers={"X-User-Id": "alice"})).status == 429
    assert (await client.post(_join_path(), headers={"X-User-Id": "alice"})).status == 201


async def test_a_join_with_rate_limits_on_is_one_script_call_and_no_database_work(make_client, batched, statements,
                                                                                     monkeypatch):
    # The steady state: the event's snapshot stays cached however slow the machine (it is 1 s).
    monkeypatch.setattr(eventcache, "SNAPSHOT_TTL_S", 60.0)
    client = await make_client(rate_join_per_min=5, rate_per_ip_per_min=100)
    path = _join_path()
    statements[0] = 0
    # The event's first join reads it, opens its room and fills this process's caches.
    assert (await client.post(path, headers={"X-User-Id": "fan-0"})).status == 201
    assert statements[0] > 0
    batched.clear()
    statements[0] = 0
    resp = await client.post(path, headers={"X-User-Id": "fan-1"})
    assert resp.status == 201 and resp.headers["RateLimit"].startswith('"join";r=4;')
    script_calls = [command[:2] for command in batched if command[0] in ("EVAL", "EVALSHA")]
    room_join = hashlib.sha1(lua_source("room_join").encode()).hexdigest()
    assert script_calls == [("EVALSHA", room_join)]  # no separate rate-limit check
    assert statements[0] == 0


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
    client = await make_client(rate_reserve_per_min=1, rate_per_ip_per_min=1)
    path = f"/events/{uuid.uuid4()}/reservations"
    await client.post(path, headers={"X-User-Id": "bad id"})
    resp = await client.post(path, headers={"X-User-Id": "bad id"})
    assert resp.status == 429
    assert (await resp.json())["limits"] == ["ip"]


async def test_a_join_with_a_malformed_user_id_is_refused_before_anything_is_counted(make_client):
    client = await make_client(rate_join_per_min=1, rate_per_ip_per_min=1)
    path = _join_path()
    statuses = [(await client.post(path, headers={"X-User-Id": "bad id"})).status for _ in range(2)]
    assert statuses == [400, 400]
    assert (await client.post(path, headers={"X-User-Id": "alice"})).status == 201


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
