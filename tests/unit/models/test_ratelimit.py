"""The GCRA limiter: counts, refusals, all-or-nothing policies, fail-open on a Redis outage."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from models.metrics import RATE_LIMITED, RATE_LIMITER_FAIL_OPEN
from models.ratelimit import Deadlines, Policy, RateLimiter, decision_of, fields_of
from models.waiting_room.batching import CommandBatcher


@pytest.fixture(params=["alone", "pipelined"])
async def limiter(request, aredis, keys, settings):
    """The limiter sending its script alone, and through a CommandBatcher (as the web tier does).
    Its checks count at one instant: however slow the machine, no quota refills during a test
    (a test that wants time to pass moves a stored arrival time back)."""
    now_ms = int(time.time() * 1000)
    if request.param == "alone":
        yield RateLimiter(aredis, keys, timeout_s=settings.rate_check_timeout_s, clock_ms=lambda: now_ms)
        return
    batcher = CommandBatcher(aredis)
    yield RateLimiter(aredis, keys, run_script=batcher.run_script, timeout_s=settings.rate_check_timeout_s,
                      clock_ms=lambda: now_ms)
    await batcher.aclose()


def _value(counter, *labels) -> float:
    return (counter.labels(*labels) if labels else counter)._value.get()


async def test_a_policy_allows_its_limit_then_refuses_with_a_retry_after(limiter):
    policy = Policy("join", 3)
    remaining = []
    for _ in range(3):
        decision = await limiter.check([(policy, "alice")])
        assert decision.allowed
        remaining.append(decision.states[0].remaining)
    refused = await limiter.check([(policy, "alice")])
    assert remaining == [2, 1, 0]
    assert not refused.allowed
    assert refused.refused_by == ("join",)
    # One request every 20 s refills a 3-per-minute policy.
    assert 19 <= refused.retry_after_s <= 20
    assert refused.states[0].reset_s == 60


async def test_subjects_are_counted_apart(limiter):
    policy = Policy("join", 1)
    assert (await limiter.check([(policy, "alice")])).allowed
    assert (await limiter.check([(policy, "bob")])).allowed
    assert not (await limiter.check([(policy, "alice")])).allowed


async def test_a_refused_request_costs_no_policy_anything(limiter):
    user, ip = Policy("reserve", 1), Policy("ip", 10)
    first = await limiter.check([(user, "alice"), (ip, "10.0.0.1")])
    refused = await limiter.check([(user, "alice"), (ip, "10.0.0.1")])
    other_user = await limiter.check([(user, "bob"), (ip, "10.0.0.1")])
    assert [s.remaining for s in first.states] == [0, 9]
    assert not refused.allowed and refused.refused_by == ("reserve",)
    assert [s.remaining for s in refused.states] == [0, 9]
    assert other_user.allowed and other_user.states[1].remaining == 8


async def test_refusals_are_counted_by_scope(limiter):
    before = _value(RATE_LIMITED, "checkout")
    policy = Policy("checkout", 1)
    await limiter.check([(policy, "carol")])
    await limiter.check([(policy, "carol")])
    assert _value(RATE_LIMITED, "checkout") == before + 1


async def test_quota_comes_back_as_time_passes(limiter, redis, keys):
    policy = Policy("join", 2)
    await limiter.check([(policy, "dave")])
    await limiter.check([(policy, "dave")])
    assert not (await limiter.check([(policy, "dave")])).allowed
    # Move the stored arrival time 30 s into the past: one request (every 30 s) is back.
    key = keys.rate("join", "dave")
    redis.set(key, f"{float(redis.get(key)) - 30_000:.3f}", px=60_000)
    decision = await limiter.check([(policy, "dave")])
    assert decision.allowed and decision.states[0].remaining == 0


async def test_an_arrival_time_is_stored_in_ms_with_three_decimals_whole_or_not(redis, keys, aredis, settings):
    # Whole ones are spelled through '%d' (no float printing in Redis), the same bytes as '%.3f'.
    limiter = RateLimiter(aredis, keys, timeout_s=settings.rate_check_timeout_s, clock_ms=lambda: 1_000_000)
    await limiter.check([(Policy("join", 30), "erin"), (Policy("ip", 7), "10.0.0.9")])
    assert redis.get(keys.rate("join", "erin")) == "1002000.000"
    assert redis.get(keys.rate("ip", "10.0.0.9")) == "1008571.429"  # 60,000 / 7 = 8,571.428...


async def test_a_zero_limit_disables_the_policy_without_touching_redis(limiter, redis, keys):
    assert await limiter.check([(Policy("join", 0), "alice"), (Policy("ip", 0), "10.0.0.1")]) is None
    assert redis.keys(f"{keys.prefix}*") == []


async def test_an_empty_subject_is_not_limited(limiter):
    decision = await limiter.check([(Policy("join", 1), ""), (Policy("ip", 5), "10.0.0.1")])
    assert [s.policy.name for s in decision.states] == ["ip"]


async def test_a_redis_outage_fails_open_with_a_log_line_and_a_metric(keys, settings, caplog):
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=AsyncRetry(NoBackoff(), 0))
    limiter = RateLimiter(down, keys, cooldown_s=60, timeout_s=settings.rate_check_timeout_s)
    before = _value(RATE_LIMITER_FAIL_OPEN)
    with caplog.at_level(logging.WARNING, logger="ticketdrop.ratelimit"):
        first = await limiter.check([(Policy("join", 1), "alice")])
        second = await limiter.check([(Policy("join", 1), "alice")])
    await down.aclose()
    assert first is None and second is None
    assert _value(RATE_LIMITER_FAIL_OPEN) == before + 2
    # The second call did not wait on Redis again: one log line for the outage.
    assert [r.getMessage() for r in caplog.records].count("rate limiter failing open: Redis unavailable") == 1


async def test_a_check_that_takes_too_long_fails_open(keys):
    class Stalled:
        """A Redis whose script calls never answer (a hung server, or the client's own retries)."""

        async def evalsha(self, *_):
            await asyncio.sleep(60)

    limiter = RateLimiter(Stalled(), keys, timeout_s=0.05)
    before = _value(RATE_LIMITER_FAIL_OPEN)
    assert await limiter.check([(Policy("join", 1), "alice")]) is None
    assert _value(RATE_LIMITER_FAIL_OPEN) == before + 1


async def test_one_deadline_timer_fails_each_stalled_check_at_its_own_time_and_no_other(monkeypatch):
    # The loop's clock is the test's: a loaded machine cannot make a timer fire late.
    loop = asyncio.get_running_loop()
    start = loop.time()
    clock = [start]
    monkeypatch.setattr(loop, "time", lambda: clock[0])

    async def at(seconds: float) -> None:
        """Move the clock to ``seconds`` after the start and let the loop run what is due."""
        clock[0] = start + seconds
        for _ in range(3):
            await asyncio.sleep(0)

    deadlines = Deadlines(0.05)
    stalled_first, answered, stalled_later = loop.create_future(), loop.create_future(), loop.create_future()
    deadlines.watch(stalled_first)
    deadlines.watch(answered)
    answered.set_result("ok")
    await at(0.03)
    deadlines.watch(stalled_later)
    await at(0.049)
    assert not stalled_first.done()
    await at(0.051)
    assert isinstance(stalled_first.exception(), TimeoutError) and not stalled_later.done()
    await at(0.079)
    assert not stalled_later.done()
    await at(0.081)
    assert isinstance(stalled_later.exception(), TimeoutError)
    assert answered.result() == "ok"


async def test_a_check_through_the_batcher_that_takes_too_long_fails_open_and_the_next_one_skips_redis(aredis, keys):
    class Stalled:
        """A batcher whose Redis never answers."""

        def __init__(self):
            self.sent = 0

        def run_script(self, *_):
            self.sent += 1
            return asyncio.get_running_loop().create_future()

    stalled = Stalled()
    limiter = RateLimiter(aredis, keys, timeout_s=0.05, run_script=stalled.run_script)
    assert await limiter.check([(Policy("join", 1), "alice"), (Policy("ip", 5), "10.0.0.1")]) is None
    assert await limiter.check([(Policy("join", 1), "alice")]) is None
    assert stalled.sent == 2  # both policies' slots, once: the second check failed open without Redis


def test_a_scripts_reply_becomes_a_decision_with_its_reset_rounded_up_to_whole_seconds():
    policies = [Policy("join", 10), Policy("ip", 600)]
    allowed = decision_of(policies, [1, 0, 9, 1, 599, 1000])
    assert (allowed.allowed, allowed.retry_after_s) == (True, 0.0)
    assert [(s.policy, s.remaining, s.reset_s) for s in allowed.states] == [(policies[0], 9, 1), (policies[1], 599, 1)]
    refused = decision_of(policies, [0, 1500, 0, 60001, 598, 0])
    assert (refused.allowed, refused.retry_after_s, refused.refused_by) == (False, 1.5, ("join",))
    assert [(s.remaining, s.reset_s) for s in refused.states] == [(0, 61), (598, 0)]
    assert refused.fields() == {"RateLimit-Policy": '"join";q=10;w=60, "ip";q=600;w=60',
                                "RateLimit": '"join";r=0;t=61, "ip";r=598;t=0'}


@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**12)), min_size=1, max_size=3),
       st.sampled_from([0, 1]), st.integers(0, 10**9))
def test_the_fields_written_straight_from_a_reply_are_the_decisions_fields(states, allowed, retry_ms):
    policies = [Policy(name, limit, window) for name, limit, window in
                (("join", 10, 60), ("ip", 600, 60), ("reserve", 1, 3600))][:len(states)]
    reply = [allowed, retry_ms, *(value for state in states for value in state)]
    assert fields_of(policies, reply) == decision_of(policies, reply).fields()
