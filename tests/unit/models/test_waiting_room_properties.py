"""Properties of the queue over random join sequences and ticks (hypothesis, real Lua on fakeredis).

Every token gets exactly one position; positions are 1..total without gaps or duplicates; the
pre-queue order is the order of the revealed HMACs; later joins are first come, first served;
admission only moves forward, in position order; rejoining never changes a place; and a fan can
recompute their own position from the published salt and HMAC list.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import uuid

import fakeredis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from models.keys import Keys
from models.tables import Event
from models.waiting_room import admit_waves, store
from models.waiting_room.fairness import public_document
from models.waiting_room.sales import selling_events
from models.waiting_room.waves import step_event
from tests.unit.models.test_waiting_room import T0, join, make_event, make_tier, position_of, set_stock
from workers.runtime import Runtime

PROPERTY = hyp_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: A join: (user index or None for anonymous, ms relative to on-sale).
joins_strategy = st.lists(
    st.tuples(st.one_of(st.none(), st.integers(0, 25)), st.integers(-5000, 5000)), min_size=1, max_size=60)


def _fresh(settings):
    """A new Redis, key prefix and runtime per example (fixtures are per test, examples are many)."""
    redis = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    keys = Keys(f"p{uuid.uuid4().hex[:8]}:")
    return redis, keys, Runtime(settings, redis, keys)


def tick(rt, event, now_ms: int) -> int:
    """One tick for this example's event only (earlier examples' events live in other Redises)."""
    s = rt.settings
    sale = next(e for e in selling_events(now_ms, s.wave_size, s.wave_interval_s) if e.id == str(event.id))
    return step_event(rt.redis, rt.keys, s, sale, now_ms)


def _joined_room(settings, joins):
    """A fresh Redis (see :func:`_fresh`) with an event whose room ``joins`` entered:
    (redis, keys, runtime, event, the joins as :func:`_run_joins` returns them)."""
    redis, keys, rt = _fresh(settings)
    event = make_event()
    return redis, keys, rt, event, _run_joins(redis, keys, settings, event, joins)


def _run_joins(redis, keys, settings, event, joins):
    """Join in arrival order (clock sorted). Returns [(token, created, value, time)]."""
    out = []
    for user, offset in sorted(joins, key=lambda j: j[1]):
        token, created, value = join(redis, keys, settings, event, None if user is None else f"user-{user}", T0 + offset)
        out.append((token, created, value, T0 + offset))
    return out


@PROPERTY
@given(joins=joins_strategy)
def test_every_token_gets_exactly_one_position_and_positions_are_gapless(settings, db, joins):
    redis, keys, rt, event, joined = _joined_room(settings, joins)
    Event.update(paused=True).where(Event.id == event.id).execute()  # the draw only
    tick(rt, event, T0 + 6000)
    tokens = {t.text: t for t, _, _, _ in joined}
    positions = [position_of(redis, keys, event, t) for t in tokens.values()]
    total = store.read_counters(redis, keys, str(event.id)).total
    assert len(tokens) == total
    assert sorted(positions) == list(range(1, total + 1))


@PROPERTY
@given(joins=joins_strategy)
def test_rejoining_never_changes_a_place(settings, db, joins):
    redis, keys, rt, event, joined = _joined_room(settings, joins)
    first_value: dict[str, int] = {}
    for token, created, value, _ in joined:
        if token.text in first_value:
            assert not created and value == first_value[token.text]
        else:
            assert created
            first_value[token.text] = value
    tick(rt, event, T0 + 6000)
    drawn = {text: position_of(redis, keys, event, t) for text, t in {t.text: t for t, *_ in joined}.items()}
    for user in range(26):
        again, created, value = join(redis, keys, settings, event, f"user-{user}", T0 + 9000)
        if again.text in drawn:
            assert (created, value) == (False, drawn[again.text])


@PROPERTY
@given(joins=joins_strategy)
def test_the_pre_queue_follows_the_revealed_hmacs_and_later_joins_are_first_come_first_served(settings, db, joins):
    redis, keys, rt, event, joined = _joined_room(settings, joins)
    Event.update(paused=True).where(Event.id == event.id).execute()
    tick(rt, event, T0 + 6000)
    salt = bytes.fromhex(public_document(str(event.id))["salt"])
    first_join: dict[str, tuple] = {}
    for token, _, _, at in joined:
        first_join.setdefault(token.text, (token, at))
    pre = [t for t, at in first_join.values() if at < T0]
    post = [t for t, at in first_join.values() if at >= T0]
    published = redis.execute_command("GET", keys.room_hmacs(str(event.id)), NEVER_DECODE=True) or b""
    hmacs = [published[i:i + 32] for i in range(0, len(published), 32)]
    assert hmacs == sorted(hmac.digest(salt, t.text.encode(), "sha256") for t in pre)
    assert [position_of(redis, keys, event, t) for t in sorted(pre, key=lambda t: hmac.digest(salt, t.text.encode(), "sha256"))] == list(range(1, len(pre) + 1))
    assert [position_of(redis, keys, event, t) for t in post] == list(range(len(pre) + 1, len(pre) + len(post) + 1))


@PROPERTY
@given(joins=joins_strategy, picks=st.lists(st.integers(0, 10**6), min_size=1, max_size=5))
def test_a_fan_recomputes_their_position_from_the_published_salt_and_hmac_list(settings, db, joins, picks):
    redis, keys, rt, event, joined = _joined_room(settings, joins)
    tick(rt, event, T0 + 6000)
    doc = public_document(str(event.id))
    published = redis.execute_command("GET", keys.room_hmacs(str(event.id)), NEVER_DECODE=True) or b""
    listed = [published[i:i + 32].hex() for i in range(0, len(published), 32)]
    # What the documented script (docs/internals/waiting-room.md) does, with nothing but public data and the fan's own token:
    assert hashlib.sha256(bytes.fromhex(doc["salt"])).hexdigest() == doc["commitment"]
    assert listed == sorted(listed)
    pre_queue = [(t, at) for t, _, _, at in joined if at < T0]
    for pick in picks:
        if not pre_queue:
            break
        token, _ = pre_queue[pick % len(pre_queue)]
        mine = hmac.new(bytes.fromhex(doc["salt"]), token.text.encode(), hashlib.sha256).hexdigest()
        index = bisect.bisect_left(listed, mine)
        assert listed[index] == mine
        assert position_of(redis, keys, event, token) == index + 1


@PROPERTY
@given(
    joins=joins_strategy,
    ticks=st.lists(st.tuples(st.integers(1, 20), st.integers(0, 8), st.integers(0, 3), st.booleans()), min_size=1, max_size=25),
)
def test_admission_only_moves_forward_in_position_order_and_never_past_the_queue_or_the_stock(settings, db, joins, ticks):
    redis, keys, rt = _fresh(settings)
    event = make_event(wave_interval_s=1.0)
    tier = make_tier(event)
    _run_joins(redis, keys, settings, event, joins)
    now, previous_up_to = T0 + 6000, 0
    for wave_size, available, held, repeat in ticks:
        Event.update(wave_size=wave_size).where(Event.id == event.id).execute()
        set_stock(redis, keys, event, tier, available, held)
        before = store.read_counters(redis, keys, str(event.id))
        admitted = tick(rt, event, now)
        if repeat:
            assert tick(rt, event, now) == 0
        after = store.read_counters(redis, keys, str(event.id))
        assert after.up_to == previous_up_to + admitted >= previous_up_to
        assert after.up_to <= after.total
        assert admitted <= max(0, available - before.live_unused)
        if available > before.live_unused and before.total > before.up_to:
            assert admitted > 0  # and it does admit whenever someone waits and can still buy
        previous_up_to = after.up_to
        now += 1000
    waves = [store.Wave.parse(m) for m in redis.zrange(keys.room_waves(str(event.id)), 0, -1)]
    assert [w.first for w in waves] == [1 + (waves[i - 1].last if i else 0) for i in range(len(waves))]
    assert all(w.first <= w.last for w in waves)


@pytest.mark.parametrize("n", [1, 257])
def test_the_draw_handles_a_pre_queue_spread_over_many_buckets(redis, keys, settings, db, runtime, n):
    event = make_event()
    joined = [join(redis, keys, settings, event, f"fan-{i}", T0 - 1)[0] for i in range(n)]
    Event.update(paused=True).where(Event.id == event.id).execute()
    admit_waves(runtime, now_ms=T0)
    assert sorted(position_of(redis, keys, event, t) for t in joined) == list(range(1, n + 1))
