"""A join's rate limits, counted by room_join.lua in the join's own call (issue 14): per event,
all or nothing, and a refused join leaves the room as it was."""

from __future__ import annotations

import pytest

from models.errors import RateLimited, RoomRestoring
from models.metrics import JOINS, RATE_LIMITED, flush_tallies
from models.ratelimit import Policy
from models.waiting_room import RoomService, restore
from tests.unit.models.test_waiting_room import T0
from tests.unit.models.test_waiting_room_batching import command_of
from tests.unit.models.test_waiting_room_service import _blocking, make_snapshot


@pytest.fixture
async def service(aredis, keys, settings, db):
    room = RoomService(redis=aredis, keys=keys, settings=settings, run_blocking=_blocking)
    yield room
    await room.aclose()


def _limits(user: str, address: str = "10.0.0.1", *, per_user: int = 30, per_address: int = 600):
    return [(Policy("join", per_user), user), (Policy("ip", per_address), address)]


def _room_keys(redis, keys, event_id: str) -> dict[str, object]:
    """Every key of the event's room (not its rate limits) with its type and value."""
    found = {}
    for key in redis.scan_iter(match=f"{keys.prefix}room:*"):
        kind = redis.type(key)
        value = {"hash": redis.hgetall, "list": lambda k: redis.lrange(k, 0, -1), "set": redis.smembers,
                 "string": redis.get}[kind](key)
        found[key] = (kind, value)
    assert keys.room(event_id) in found
    return found


async def test_a_join_a_limit_refuses_changes_nothing_in_the_room(service, settings, redis, keys):
    event = make_snapshot(settings)
    for fan in ("fan-1", "fan-2"):
        await service.join(event, fan, limits=_limits(fan, per_address=2), now_ms=T0 + 1000)
    before = _room_keys(redis, keys, str(event.id))
    flush_tallies()
    joins = JOINS.labels("new")._value.get()
    refused_before = RATE_LIMITED.labels("ip")._value.get()
    with pytest.raises(RateLimited) as info:
        await service.join(event, "fan-3", limits=_limits("fan-3", per_address=2), now_ms=T0 + 1000)
    assert _room_keys(redis, keys, str(event.id)) == before  # no place, no journal line, no counter
    flush_tallies()
    assert JOINS.labels("new")._value.get() == joins
    assert RATE_LIMITED.labels("ip")._value.get() == refused_before + 1
    refusal = info.value
    assert refusal.extra["limits"] == ["ip"] and refusal.retry_after == 30.0
    assert refusal.headers == {"RateLimit-Policy": '"join";q=30;w=60, "ip";q=2;w=60',
                               "RateLimit": '"join";r=30;t=0, "ip";r=0;t=60'}


async def test_an_allowed_join_returns_the_state_of_its_limits(service, settings):
    event = make_snapshot(settings)
    result = await service.join(event, "fan-1", limits=_limits("fan-1", per_user=2), now_ms=T0 + 1000)
    assert result.created and result.position == 1
    assert [(s.policy.name, s.remaining, s.reset_s) for s in result.limits.states] == [("join", 1, 30), ("ip", 599, 1)]
    assert result.rate_fields == {"RateLimit-Policy": '"join";q=2;w=60, "ip";q=600;w=60',
                                  "RateLimit": '"join";r=1;t=30, "ip";r=599;t=1'}


async def test_the_first_join_of_a_room_is_counted_once_though_it_opens_the_room(service, settings, redis, keys):
    event = make_snapshot(settings)
    assert not redis.hexists(keys.room(str(event.id)), "live")
    first = await service.join(event, "fan-1", limits=_limits("fan-1", per_user=2), now_ms=T0 + 1000)
    assert first.created and first.limits.states[0].remaining == 1
    rejoin = await service.join(event, "fan-1", limits=_limits("fan-1", per_user=2), now_ms=T0 + 1000)
    assert not rejoin.created and rejoin.limits.states[0].remaining == 0  # a rejoin is a request too
    with pytest.raises(RateLimited):
        await service.join(event, "fan-1", limits=_limits("fan-1", per_user=2), now_ms=T0 + 1000)


async def test_the_join_quotas_count_per_event(service, settings):
    one, other = make_snapshot(settings), make_snapshot(settings)
    await service.join(one, "fan-1", limits=_limits("fan-1", per_user=1, per_address=1), now_ms=T0 + 1000)
    with pytest.raises(RateLimited) as info:
        await service.join(one, "fan-1", limits=_limits("fan-1", per_user=1, per_address=1), now_ms=T0 + 1000)
    assert info.value.extra["limits"] == ["join", "ip"]
    result = await service.join(other, "fan-1", limits=_limits("fan-1", per_user=1, per_address=1), now_ms=T0 + 1000)
    assert result.created and [s.remaining for s in result.limits.states] == [0, 0]


async def test_limits_of_zero_and_empty_subjects_leave_the_join_as_it_was(service, settings, monkeypatch):
    sent = []
    add = service.batcher._add
    monkeypatch.setattr(service.batcher, "_add", lambda command, script: sent.append(command_of(command)) or add(command, script))
    event = make_snapshot(settings)
    await service.join(event, "fan-0", now_ms=T0 + 1000)  # opens the room
    sent.clear()
    off = await service.join(event, "fan-1", limits=[(Policy("join", 0), "fan-1"), (Policy("ip", 0), "10.0.0.1")],
                             now_ms=T0 + 1000)
    anonymous = await service.join(event, None, limits=[(Policy("join", 5), ""), (Policy("ip", 0), "10.0.0.1")],
                                   now_ms=T0 + 1000)
    assert off.limits is None and off.rate_fields is None and anonymous.limits is None
    shapes = [(int(c[2]), len(c) - 3 - int(c[2])) for c in sent if c[0] == "EVALSHA"]
    assert shapes == [(4, 5), (4, 5)]  # room_join's KEYS and ARGV as before limits


async def test_an_error_after_the_count_carries_the_ratelimit_fields(service, settings, monkeypatch):
    monkeypatch.setattr(restore, "room_is_new", lambda event_id: False)  # places known: the tick restores it
    event = make_snapshot(settings)
    with pytest.raises(RoomRestoring) as info:
        await service.join(event, "fan-1", limits=_limits("fan-1", per_user=2), now_ms=T0 + 1000)
    assert info.value.headers["RateLimit"] == '"join";r=1;t=30, "ip";r=599;t=1'


async def test_a_steady_state_join_is_one_script_call_and_no_database_work(service, settings, redis, keys, monkeypatch):
    # Issue 14: "one Redis round trip and no database work per join in steady state". The first
    # join of a process opens the room and publishes the fairness commitment (database work);
    # after it, with the room view fresh, a join (new or again) sends room_join.lua alone.
    event = make_snapshot(settings)
    await service.join(event, "fan-0", limits=_limits("fan-0"))
    sent, blocking = [], []
    add = service.batcher._add
    monkeypatch.setattr(service.batcher, "_add", lambda command, script: sent.append(command_of(command)) or
                        add(command, script))

    async def no_database(fn, *args):
        blocking.append(fn)
        return fn(*args)

    monkeypatch.setattr(service, "_run_blocking", no_database)
    monkeypatch.setattr(service, "_redis", None)  # any Redis call outside the batcher would fail
    monkeypatch.setattr(service.rooms, "_redis", None)
    joined = [await service.join(event, fan, limits=_limits(fan)) for fan in ("fan-1", "fan-2", "fan-1")]
    sha = service._join_script().sha
    assert [command[:2] for command in sent] == [("EVALSHA", sha)] * 3
    assert blocking == []
    assert [(j.created, j.total) for j in joined] == [(True, 2), (True, 3), (False, 3)]
