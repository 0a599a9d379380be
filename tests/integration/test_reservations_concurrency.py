"""The reservation engine on real PostgreSQL and Redis, under concurrency and faults.

Requests go in the way the web tier puts them (res_enqueue.lua on an asyncio client, a drain
message when the script says so); real Dramatiq workers on a RedisBroker decide them, as
threads of this process or as separate ``dramatiq`` processes, one of them killed mid-run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from peewee import fn

from models.commands import commands
from models.inventory import kick_stalled_mailboxes, rebuild_counters
from models.keys import reservation_id
from models.redis import is_cluster
from models.reservations.queue import Request, enqueue
from models.settings import ROOT
from models.tables import Order, Reservation, TicketTier
from tests.integration.conftest import REDIS_URL
from tests.unit.models.test_reservations_support import make_event, make_paid_order, make_tier

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Longest a run may take to decide everything, in seconds.
SETTLE_TIMEOUT_S = 90


@pytest.fixture
def worker_threads(start_workers):
    """Two Dramatiq workers of eight threads each, in this process."""
    return start_workers(8)


#: Requests in flight at once (a web process's Redis pool is 256 connections).
CONCURRENCY = 200


async def fire(aredis, runtime, requests):
    """Submit every request at once, CONCURRENCY in flight; returns [(request, kind, value)]."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(req):
        async with gate:
            kind, value = await enqueue(aredis, runtime.keys, runtime.settings.event_purchase_limit, req)
        if kind == "accepted" and int(value) == 1:
            await asyncio.to_thread(commands().send_drain, req.event_id)
        return req, kind, value

    return await asyncio.gather(*(one(r) for r in requests))


def settle(runtime, event_id, accepted_ids, *, kick=False):
    """Wait until every accepted request has a database row (kicking stalled mailboxes like the sweep)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        done = Reservation.select().where(Reservation.id.in_(list(accepted_ids))).count()
        if done == len(accepted_ids):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"only {done} of {len(accepted_ids)} requests decided")
        if kick:
            kick_stalled_mailboxes(runtime)
        time.sleep(0.2)


def subscribe_outcomes(runtime):
    """A pubsub on the outcomes channel (sharded on a Redis Cluster, as models/outcomes.py publishes there)."""
    pubsub = runtime.redis.pubsub()
    if is_cluster(runtime.redis):
        pubsub.ssubscribe(runtime.keys.outcomes_channel())
    else:
        pubsub.subscribe(runtime.keys.outcomes_channel())
    return pubsub


def assert_no_oversell(runtime, event_id, tier):
    fresh = TicketTier.get_by_id(tier.id)
    held_rows = (Reservation.select(fn.COALESCE(fn.SUM(Reservation.quantity), 0))
                 .where(Reservation.tier == tier.id, Reservation.status == "held").scalar())
    assert fresh.sold + fresh.held <= fresh.capacity
    assert fresh.held == held_rows
    rebuild_counters(runtime.redis, runtime.keys, event_id)  # Redis must agree with the truth
    raw = runtime.redis.hgetall(runtime.keys.stock(event_id))
    assert int(raw[str(tier.id)]) == fresh.capacity - fresh.sold - fresh.held >= 0
    return fresh


def assert_per_user_limits(event_id, limit):
    held = Counter()
    for r in Reservation.select().where(Reservation.event == event_id, Reservation.status == "held"):
        held[r.user_id] += r.quantity
    paid = dict(Order.select(Order.user_id, fn.SUM(Order.quantity)).where(Order.event == event_id)
                .group_by(Order.user_id).tuples())
    live = Counter(r.user_id for r in Reservation.select().where(Reservation.event == event_id, Reservation.status == "held"))
    assert set(live.values()) <= {1}, "a user holds two live reservations"
    assert all(held[u] + int(paid.get(u, 0)) <= limit for u in set(held) | set(paid))


async def test_2000_concurrent_requests_on_500_tickets_hold_exactly_500_and_decide_each_once(
        runtime, aredis, worker_threads):
    event = make_event()
    tier = make_tier(event, capacity=500, per_user_limit=4)
    lounge = make_tier(event, name="Lounge", capacity=1000)
    veterans = [f"vet-{i}" for i in range(100)]
    for user in veterans:
        make_paid_order(lounge, user, 5)
    e = str(event.id)
    rebuild_counters(runtime.redis, runtime.keys, e)
    fans = [f"fan-{i}" for i in range(1600)]
    requests = [Request(reservation_id(e), e, str(tier.id), u, 1) for u in fans + fans[:300]]
    requests += [Request(reservation_id(e), e, str(tier.id), u, 2) for u in veterans]
    assert len(requests) == 2000
    pubsub = subscribe_outcomes(runtime)

    results = await fire(aredis, runtime, requests)
    kinds = Counter(kind for _, kind, _ in results)
    accepted = {req.id for req, kind, _ in results if kind == "accepted"}
    await asyncio.to_thread(settle, runtime, e, accepted)

    assert kinds["limit"] == 100 and kinds["accepted"] + kinds["existing"] == 1900
    rows = {str(r.id): r for r in Reservation.select().where(Reservation.tier == tier.id)}
    assert set(rows) == accepted
    assert sum(1 for r in rows.values() if r.status == "held") == 500
    fresh = assert_no_oversell(runtime, e, tier)
    assert (fresh.sold, fresh.held) == (0, 500)
    assert_per_user_limits(e, runtime.settings.event_purchase_limit)
    assert runtime.redis.llen(runtime.keys.mailbox(e)) == 0
    statuses = Counter(runtime.redis.hget(runtime.keys.reservation(rid), "status") for rid in accepted)
    assert statuses == Counter(r.status for r in rows.values())
    published = Counter()
    deadline = time.monotonic() + 60  # the outcomes are already published: only a hang guard
    while len(published) < len(accepted) and time.monotonic() < deadline:
        msg = pubsub.get_sharded_message(timeout=0.2) if is_cluster(runtime.redis) else pubsub.get_message(timeout=0.2)
        if msg and msg["type"] in ("message", "smessage"):
            published[__import__("orjson").loads(msg["data"])["id"]] += 1
    assert set(published) == accepted and set(published.values()) == {1}


async def test_redis_flushed_mid_run_still_sells_no_ticket_twice(runtime, aredis, worker_threads):
    event = make_event()
    tier = make_tier(event, capacity=500, per_user_limit=4)
    e = str(event.id)
    first = [Request(reservation_id(e), e, str(tier.id), f"early-{i}", 1) for i in range(700)]
    results = await fire(aredis, runtime, first)
    accepted = {req.id for req, kind, _ in results if kind == "accepted"}
    while Reservation.select().where(Reservation.event == e).count() < 150:
        await asyncio.sleep(0.01)

    for key in runtime.redis.scan_iter(match=f"{runtime.keys.prefix}*", count=1000):  # FLUSHDB, for this test's keys
        runtime.redis.delete(key)
    second = [Request(reservation_id(e), e, str(tier.id), f"late-{i}", 1) for i in range(700)]
    results = await fire(aredis, runtime, second)
    late = {req.id for req, kind, _ in results if kind == "accepted"}
    await asyncio.to_thread(settle, runtime, e, late, kick=True)

    fresh = assert_no_oversell(runtime, e, tier)
    assert fresh.held == 500  # demand exceeded supply on both sides of the flush
    assert_per_user_limits(e, runtime.settings.event_purchase_limit)
    lost = len(accepted) - Reservation.select().where(Reservation.id.in_(list(accepted))).count()
    assert 0 <= lost < len(accepted)  # requests still queued at the flush were lost with Redis


def _worker_process(settings, log_path):
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": REDIS_URL, "BROKER_URL": REDIS_URL,
           "REDIS_PREFIX": settings.redis_prefix, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
           "ACTOR_MAX_RETRIES": "3", "DB_MAX_CONNECTIONS": "8", "QUEUE_PREFIX": ""}  # -Q reservations, as sent here
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "workers", "-p", "1", "-t", "4", "-Q",
                                 "reservations"], env=env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True)


def _kill(proc, sig=signal.SIGKILL):
    try:
        os.killpg(proc.pid, sig)  # the dramatiq main process and the worker process it forked
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


async def test_worker_processes_one_killed_mid_run_lose_no_request_and_grant_nothing_twice(
        runtime, aredis, real_broker, tmp_path):
    event = make_event()
    tier = make_tier(event, capacity=400, per_user_limit=4)
    e = str(event.id)
    procs = [_worker_process(runtime.settings, tmp_path / f"worker-{i}.log") for i in range(2)]
    try:
        await asyncio.sleep(3)  # workers boot
        requests = [Request(reservation_id(e), e, str(tier.id), f"fan-{i}", 1 + i % 2) for i in range(1200)]
        results = await fire(aredis, runtime, requests[:600])
        while Reservation.select().where(Reservation.event == e).count() < 100:
            await asyncio.sleep(0.005)
        _kill(procs[0])
        results += await fire(aredis, runtime, requests[600:])
        accepted = {req.id for req, kind, _ in results if kind == "accepted"}
        assert len(accepted) == 1200
        await asyncio.to_thread(settle, runtime, e, accepted, kick=True)
    finally:
        for proc in procs:
            _kill(proc, signal.SIGTERM) if proc.poll() is None else None
    rows = list(Reservation.select().where(Reservation.event == e))
    assert len(rows) == 1200
    fresh = assert_no_oversell(runtime, e, tier)
    assert fresh.held == 400
    assert_per_user_limits(e, runtime.settings.event_purchase_limit)
