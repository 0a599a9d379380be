"""Waiting room on fakeredis + SQLite: joins, the pre-queue draw, waves, admission, expiry."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from models.catalog.snapshot import load_snapshot
from models.errors import Forbidden
from models.redis import scripts
from models.tables import AdmissionWave, Event, FairnessRecord, TicketTier
from models.waiting_room import (
    admit_waves,
    check_admission,
    expire_admissions,
    mark_used,
    mark_used_sync,
    queue_stats,
    store,
    tokens,
)
from models.waiting_room.fairness import public_document
from models.waiting_room.lease import leased
from models.waiting_room.waves import (
    BUCKET_EXPIRY_AHEAD_MS,
    BUCKET_PUSH_AGAIN_MS,
    keep_event,
    next_due_ms,
    persist_waves,
    wave_capacity,
)
from tests import factories
from tests.factories import make_tier

#: A fixed clock: on-sale of the events below, in ms.
ON_SALE = datetime(2031, 3, 1, 18, 0, tzinfo=UTC)
T0 = int(ON_SALE.timestamp() * 1000)


#: A scheduled event going on sale at ON_SALE, starting a week later.
make_event = partial(factories.make_event, status="scheduled", on_sale_at=ON_SALE)


def join(redis, keys, settings, event: Event, user: str | None, now_ms: int) -> tuple[tokens.Token, bool, int]:
    """Join through the room_join script, as the web tier does. Returns (token, created, stored value)."""
    event_id = str(event.id)
    token = tokens.issue(settings.secret_bytes, event_id, user)
    call_keys, args = store.JoinCall(keys, event_id)(token, now_ms, int(event.on_sale_at.timestamp() * 1000),
                                      now_ms + 86_400_000)
    if redis.hsetnx(keys.room(event_id), "live", now_ms):  # what the web tier does for a new room
        redis.pexpireat(keys.room(event_id), now_ms + 86_400_000)
    created, position, _, _ = scripts(redis).get("room_join")(keys=call_keys, args=args)
    return token, bool(created), int(position)


def position_of(redis, keys, event: Event, token: tokens.Token) -> int | None:
    value = redis.hget(store.bucket_key(keys, str(event.id), token), token.field)
    return None if value is None else int(value)


def set_stock(redis, keys, event: Event, tier: TicketTier, available: int, held: int = 0) -> None:
    redis.hset(keys.stock(str(event.id)), mapping={str(tier.id): available, f"held:{tier.id}": held})


# -- joining --------------------------------------------------------------------------------

def test_joining_before_on_sale_puts_the_fan_in_the_pre_queue_without_a_position(redis, keys, settings, db):
    event = make_event()
    token, created, value = join(redis, keys, settings, event, "fan-1", T0 - 60_000)
    assert (created, value) == (True, 0)
    counters = store.read_counters(redis, keys, str(event.id))
    assert (counters.pre, counters.seq, counters.total, counters.prequeue_closed) == (1, 0, 1, False)


def test_joining_again_with_the_same_user_keeps_the_token_and_the_place(redis, keys, settings, db):
    event = make_event()
    first, _, _ = join(redis, keys, settings, event, "fan-1", T0 - 60_000)
    again, created, value = join(redis, keys, settings, event, "fan-1", T0 + 60_000)
    assert (again.text, created, value) == (first.text, False, 0)
    assert store.read_counters(redis, keys, str(event.id)).total == 1


def test_the_first_join_after_on_sale_closes_the_pre_queue_and_later_fans_queue_behind_it(redis, keys, settings, db):
    event = make_event()
    for i in range(3):
        join(redis, keys, settings, event, f"early-{i}", T0 - 1000)
    _, _, first_late = join(redis, keys, settings, event, "late-1", T0)
    _, _, second_late = join(redis, keys, settings, event, "late-2", T0 + 5)
    # A server whose clock lags still cannot slip a fan into a closed pre-queue.
    _, _, lagging = join(redis, keys, settings, event, "late-3", T0 - 500)
    assert (first_late, second_late, lagging) == (4, 5, 6)
    counters = store.read_counters(redis, keys, str(event.id))
    assert (counters.pre, counters.seq, counters.prequeue_closed) == (3, 3, True)


def test_room_keys_expire_with_the_event_and_the_tick_moves_them_when_its_start_moves(
        redis, keys, settings, db, runtime):
    event = make_event()
    event_id = str(event.id)
    token, _, _ = join(redis, keys, settings, event, "fan-1", T0 - 1000)
    room_keys = [keys.room(event_id), keys.room_journal(event_id), keys.room_prequeue_buckets(event_id)]
    assert all(redis.pttl(key) > 0 for key in [*room_keys, store.bucket_key(keys, event_id, token)])
    Event.update(starts_at=event.starts_at + timedelta(days=30)).where(Event.id == event.id).execute()
    keep_event(redis, keys, settings, load_snapshot(event_id, 10, 1.0), T0 - 500)
    expected = store.expire_at_ms(int(event.starts_at.timestamp() * 1000) + 30 * 86_400_000, T0, T0 - 500,
                                  settings.token_ttl_s)
    # (the tick copied the journal away: a new one gets its expiry from the join that makes it)
    assert [redis.pexpiretime(key) for key in room_keys] == [expected, -2, expected]


def test_a_postponed_event_keeps_every_bucket_as_long_as_its_room(redis, keys, settings, db, runtime):
    event = make_event()
    event_id = str(event.id)
    keep_event(redis, keys, settings, load_snapshot(event_id, 10, 1.0), T0 - 3000)  # opens the room
    bucket = store.bucket_key(keys, event_id, join(redis, keys, settings, event, "fan-1", T0 - 2000)[0])
    joined = redis.pexpiretime(bucket)
    keep_event(redis, keys, settings, load_snapshot(event_id, 10, 1.0), T0 - 1500)
    assert redis.pexpiretime(bucket) == joined  # times unchanged: the tick leaves buckets alone

    Event.update(starts_at=event.starts_at + timedelta(days=30)).where(Event.id == event.id).execute()
    keep_event(redis, keys, settings, load_snapshot(event_id, 10, 1.0), T0 - 500)

    room_expires = redis.pexpiretime(keys.room(event_id))
    assert room_expires > joined + 29 * 86_400_000
    assert redis.pexpiretime(bucket) == room_expires + BUCKET_EXPIRY_AHEAD_MS


def test_a_started_event_still_selling_pushes_its_buckets_every_half_hour(redis, keys, settings, db, runtime):
    event = make_event(wave_size=10, wave_interval_s=60.0)
    event_id = str(event.id)
    started = int(event.starts_at.timestamp() * 1000)
    admit_waves(runtime, now_ms=started)
    bucket = store.bucket_key(keys, event_id, join(redis, keys, settings, event, "late", started + 500)[0])
    ttl_ms, half = settings.token_ttl_s * 1000, BUCKET_EXPIRY_AHEAD_MS // 2

    def pushed_at(now_ms: int) -> int:
        return now_ms + ttl_ms + BUCKET_EXPIRY_AHEAD_MS

    admit_waves(runtime, now_ms=started + 1000)  # the room's expire-at moved with the clock
    assert redis.pexpiretime(bucket) == pushed_at(started + 1000)
    admit_waves(runtime, now_ms=started + 1000 + BUCKET_PUSH_AGAIN_MS)  # once more, for stale snapshots
    assert redis.pexpiretime(bucket) == pushed_at(started + 1000 + BUCKET_PUSH_AGAIN_MS)
    admit_waves(runtime, now_ms=started + 1000 + half)  # half of the lead used up: not yet
    assert redis.pexpiretime(bucket) == pushed_at(started + 1000 + BUCKET_PUSH_AGAIN_MS)
    admit_waves(runtime, now_ms=started + 1001 + half)
    assert redis.pexpiretime(bucket) == pushed_at(started + 1001 + half)


def test_a_join_with_the_times_from_before_a_postponement_cannot_shorten_its_bucket_for_long(
        redis, keys, settings, db, runtime):
    event = make_event()
    event_id = str(event.id)
    tick = partial(keep_event, redis, keys, settings)
    tick(load_snapshot(event_id, 10, 1.0), T0 - 30_000)
    token = join(redis, keys, settings, event, "fan-1", T0 - 29_000)[0]
    bucket = store.bucket_key(keys, event_id, token)
    Event.update(starts_at=event.starts_at + timedelta(days=30)).where(Event.id == event.id).execute()
    tick(load_snapshot(event_id, 10, 1.0), T0 - 20_000)
    pushed = redis.pexpiretime(bucket)
    # A web process still holding the old snapshot joins a fan into the same bucket with the
    # old expire-at, which the join gives the whole bucket.
    old = redis.pexpiretime(keys.room(event_id)) - 30 * 86_400_000
    stale = next(t for t in (tokens.issue(settings.secret_bytes, event_id, f"stale-{i}") for i in itertools.count())
                 if t.bucket == token.bucket)
    scripts(redis).get("room_join")(*store.JoinCall(keys, event_id)(stale, T0 - 19_000, T0, old))
    assert redis.pexpiretime(bucket) == old
    tick(load_snapshot(event_id, 10, 1.0), T0 - 20_000 + BUCKET_PUSH_AGAIN_MS)
    assert redis.pexpiretime(bucket) == pushed


def test_an_event_moved_earlier_gets_its_buckets_pushed_from_its_new_start(redis, keys, settings, db, runtime):
    event = make_event(wave_size=10, wave_interval_s=60.0)
    event_id = str(event.id)
    admit_waves(runtime, now_ms=T0)
    earlier = event.starts_at - timedelta(days=5)
    Event.update(starts_at=earlier).where(Event.id == event.id).execute()
    admit_waves(runtime, now_ms=T0 + 1000)
    started = int(earlier.timestamp() * 1000)
    bucket = store.bucket_key(keys, event_id, join(redis, keys, settings, event, "fan", started + 500)[0])
    admit_waves(runtime, now_ms=started + 1000)
    assert redis.pexpiretime(bucket) == started + 1000 + settings.token_ttl_s * 1000 + BUCKET_EXPIRY_AHEAD_MS


def test_a_room_older_than_the_bucket_mark_gets_its_buckets_pushed_at_its_first_tick(redis, keys, settings, db, runtime):
    event = make_event()
    event_id = str(event.id)
    token = join(redis, keys, settings, event, "fan-1", T0 - 600_000)[0]  # opened it ten minutes ago
    keep_event(redis, keys, settings, load_snapshot(event_id, 10, 1.0), T0 - 500)
    assert redis.pexpiretime(store.bucket_key(keys, event_id, token)) \
        == redis.pexpiretime(keys.room(event_id)) + BUCKET_EXPIRY_AHEAD_MS


# -- the draw -------------------------------------------------------------------------------

def test_the_draw_orders_the_pre_queue_by_hmac_of_the_salt_and_reveals_a_salt_matching_the_commitment(
        redis, keys, settings, db, runtime):
    event = make_event()
    make_tier(event)
    joined = [join(redis, keys, settings, event, f"fan-{i}", T0 - 10_000 + i)[0] for i in range(20)]
    before = public_document(str(event.id))
    assert before["salt"] is None and before["prequeue_size"] is None
    admit_waves(runtime, now_ms=T0)
    after = public_document(str(event.id))
    salt = bytes.fromhex(after["salt"])
    assert hashlib.sha256(salt).hexdigest() == after["commitment"] == before["commitment"]
    assert after["prequeue_size"] == 20
    by_hmac = sorted(joined, key=lambda t: hmac.digest(salt, t.text.encode(), "sha256"))
    assert [position_of(redis, keys, event, t) for t in by_hmac] == list(range(1, 21))
    published = redis.execute_command("GET", keys.room_hmacs(str(event.id)), NEVER_DECODE=True)
    assert published == b"".join(hmac.digest(salt, t.text.encode(), "sha256") for t in by_hmac)


def test_running_the_draw_again_after_a_crash_half_way_writes_the_same_positions(redis, keys, settings, db, runtime):
    event = make_event()
    joined = [join(redis, keys, settings, event, f"fan-{i}", T0 - 1000)[0] for i in range(30)]
    Event.update(paused=True).where(Event.id == event.id).execute()  # no wave: only the draw
    admit_waves(runtime, now_ms=T0)
    positions = [position_of(redis, keys, event, t) for t in joined]
    redis.hdel(keys.room(str(event.id)), "opened")  # as if it crashed before finishing
    FairnessRecord.update(revealed_at=None).execute()
    admit_waves(runtime, now_ms=T0 + 1000)
    assert [position_of(redis, keys, event, t) for t in joined] == positions
    assert sorted(positions) == list(range(1, 31))


def test_fans_who_join_while_the_draw_is_pending_keep_their_first_come_places(redis, keys, settings, db, runtime):
    event = make_event()
    early = [join(redis, keys, settings, event, f"early-{i}", T0 - 1000)[0] for i in range(5)]
    late = [join(redis, keys, settings, event, f"late-{i}", T0 + i)[0] for i in range(3)]
    admit_waves(runtime, now_ms=T0 + 10)
    assert sorted(position_of(redis, keys, event, t) for t in early) == [1, 2, 3, 4, 5]
    assert [position_of(redis, keys, event, t) for t in late] == [6, 7, 8]


def test_the_tick_publishes_a_commitment_for_scheduled_events_before_anyone_joins(db, runtime):
    event = make_event(on_sale_at=ON_SALE + timedelta(days=3))
    draft = make_event(status="draft")
    admit_waves(runtime, now_ms=T0)
    assert FairnessRecord.get_or_none(FairnessRecord.event == event.id) is not None
    assert FairnessRecord.get_or_none(FairnessRecord.event == draft.id) is None


# -- waves ----------------------------------------------------------------------------------

def test_each_due_tick_admits_one_wave_and_ticks_in_between_admit_nothing(redis, keys, settings, db, runtime):
    event = make_event(wave_size=4, wave_interval_s=5.0)
    for i in range(10):
        join(redis, keys, settings, event, f"fan-{i}", T0 - 1000)
    assert admit_waves(runtime, now_ms=T0) == 4
    assert admit_waves(runtime, now_ms=T0 + 1000) == 0
    assert admit_waves(runtime, now_ms=T0 + 5000) == 4
    assert admit_waves(runtime, now_ms=T0 + 10_000) == 2  # never beyond the queue
    assert admit_waves(runtime, now_ms=T0 + 15_000) == 0
    assert store.read_counters(redis, keys, str(event.id)).up_to == 10


def test_a_tick_that_runs_twice_at_the_same_instant_admits_each_position_once(redis, keys, settings, db, runtime):
    event = make_event(wave_size=3)
    for i in range(9):
        join(redis, keys, settings, event, f"fan-{i}", T0 - 1000)
    assert admit_waves(runtime, now_ms=T0) == 3
    assert admit_waves(runtime, now_ms=T0) == 0
    assert [(w.first_position, w.last_position) for w in AdmissionWave.select()] == [(1, 3)]


def test_a_step_whose_lease_another_scheduler_holds_admits_nothing(redis, keys, settings, db, runtime):
    event = make_event(wave_size=3)
    join(redis, keys, settings, event, "fan-1", T0 - 1000)
    with leased(redis, keys.room_lease(str(event.id))) as lease:
        assert lease is not None
        assert admit_waves(runtime, now_ms=T0) == 0
    assert admit_waves(runtime, now_ms=T0) == 1


def test_the_admit_script_refuses_a_stale_view_of_admission(redis, keys, db):
    event_id = "e1"
    admit = scripts(redis).get("room_admit")
    room_keys = [keys.room(event_id), keys.room_waves(event_id)]
    assert admit(keys=room_keys, args=[0, 5, T0, T0 + 5000, 5, T0 + 10**9]) == [1, 5]
    assert admit(keys=room_keys, args=[0, 5, T0, T0 + 5000, 5, T0 + 10**9]) == [0, 5]
    assert redis.zcard(keys.room_waves(event_id)) == 1


def test_a_paused_event_gets_no_waves_until_it_resumes(redis, keys, settings, db, runtime):
    event = make_event(wave_size=2, paused=True)
    for i in range(4):
        join(redis, keys, settings, event, f"fan-{i}", T0 - 1000)
    assert admit_waves(runtime, now_ms=T0) == 0
    Event.update(paused=False).where(Event.id == event.id).execute()
    assert admit_waves(runtime, now_ms=T0 + 60_000) == 2


def test_events_not_yet_on_sale_closed_or_canceled_get_no_waves(redis, keys, settings, db, runtime):
    later = make_event(on_sale_at=ON_SALE + timedelta(hours=1))
    closed = make_event(status="closed")
    for event in (later, closed):
        join(redis, keys, settings, event, "fan-1", T0 - 1000)
    assert admit_waves(runtime, now_ms=T0) == 0


def test_waves_are_recorded_in_the_database_and_a_missed_copy_is_made_later(redis, keys, settings, db, runtime):
    event = make_event(wave_size=2, wave_interval_s=1.0)
    for i in range(6):
        join(redis, keys, settings, event, f"fan-{i}", T0 - 1000)
    for t in (T0, T0 + 1000, T0 + 2000):
        admit_waves(runtime, now_ms=t)
    assert [(w.first_position, w.last_position) for w in AdmissionWave.select().order_by(AdmissionWave.first_position)] == [
        (1, 2), (3, 4), (5, 6)]
    AdmissionWave.delete().where(AdmissionWave.first_position == 5).execute()
    redis.hset(keys.room(str(event.id)), "dbw", 2)  # as if the copy had failed
    assert persist_waves(redis, keys, str(event.id)) == 1
    assert persist_waves(redis, keys, str(event.id)) == 0
    assert AdmissionWave.select().count() == 3


# -- never running ahead of stock -----------------------------------------------------------

def test_wave_capacity_is_the_wave_size_while_stock_is_unknown():
    assert wave_capacity(50, store.Stock(), store.RoomCounters(up_to=10)) == 50


def test_wave_capacity_never_admits_more_fans_than_tickets_left_for_them():
    stock = store.Stock(known=True, available=30, held=5)
    assert wave_capacity(50, stock, store.RoomCounters(up_to=20, used=5, expired=5)) == 20
    assert wave_capacity(50, stock, store.RoomCounters(up_to=40, used=5, expired=0)) == 0


def test_a_sold_out_event_admits_nobody_and_a_thin_one_admits_only_as_many_as_can_buy(redis, keys, settings, db, runtime):
    event = make_event(wave_size=10, wave_interval_s=1.0)
    tier = make_tier(event, capacity=3)
    for i in range(20):
        join(redis, keys, settings, event, f"fan-{i}", T0 - 1000)
    set_stock(redis, keys, event, tier, available=0, held=0)
    assert admit_waves(runtime, now_ms=T0) == 0
    set_stock(redis, keys, event, tier, available=3, held=0)
    assert admit_waves(runtime, now_ms=T0 + 1000) == 3
    assert admit_waves(runtime, now_ms=T0 + 2000) == 0  # the three admitted may still buy everything
    mark_used_sync(redis, keys, str(event.id), 1)
    set_stock(redis, keys, event, tier, available=2, held=1)  # fan 1 holds one ticket
    assert admit_waves(runtime, now_ms=T0 + 3000) == 0  # fans 2 and 3 could still buy the other two
    set_stock(redis, keys, event, tier, available=3, held=0)  # fan 1's hold came back
    assert admit_waves(runtime, now_ms=T0 + 4000) == 1


def test_next_due_keeps_to_the_grid_and_restarts_after_falling_behind():
    assert next_due_ms(10_000, 5.0, 10_300) == 15_000
    assert next_due_ms(10_000, 5.0, 40_000) == 45_000
    assert next_due_ms(0, 5.0, 7_000) == 12_000


# -- admission as reservations see it -------------------------------------------------------

async def _admitted_room(redis, keys, settings, runtime, n: int = 3):
    event = make_event(wave_size=2)
    fans = [join(redis, keys, settings, event, f"fan-{i}", T0 + i)[0] for i in range(n)]
    admit_waves(runtime, now_ms=T0 + 100)
    return event, fans


async def test_check_admission_returns_the_position_and_window_of_an_admitted_fan(redis, aredis, keys, settings, db, runtime):
    event, fans = await _admitted_room(redis, keys, settings, runtime)
    admission = await check_admission(aredis, keys, settings, event, fans[0].text, "fan-0", now_ms=T0 + 1000)
    assert admission.position == 1
    assert admission.expires_at_ms == T0 + 100 + settings.admission_ttl_s * 1000


@pytest.mark.parametrize("case", ["garbage", "other_user", "other_event", "unknown"])
async def test_check_admission_refuses_tokens_that_are_not_this_users_for_this_event(
        redis, aredis, keys, settings, db, runtime, case):
    event, fans = await _admitted_room(redis, keys, settings, runtime)
    other = make_event()
    token, user = {
        "garbage": ("not-a-token", "fan-0"),
        "other_user": (fans[0].text, "fan-1"),
        "other_event": (tokens.issue(settings.secret_bytes, str(other.id), "fan-0").text, "fan-0"),
        "unknown": (tokens.issue(settings.secret_bytes, str(event.id), "never-joined").text, "never-joined"),
    }[case]
    with pytest.raises(Forbidden) as info:
        await check_admission(aredis, keys, settings, event, token, user, now_ms=T0 + 1000)
    assert info.value.extra["reason"] == "token_invalid"


async def test_check_admission_refuses_a_fan_still_queued_and_one_whose_window_lapsed(redis, aredis, keys, settings, db, runtime):
    event, fans = await _admitted_room(redis, keys, settings, runtime)
    with pytest.raises(Forbidden) as queued:
        await check_admission(aredis, keys, settings, event, fans[2].text, "fan-2", now_ms=T0 + 1000)
    assert queued.value.extra["reason"] == "not_admitted"
    with pytest.raises(Forbidden) as lapsed:
        await check_admission(aredis, keys, settings, event, fans[0].text, "fan-0",
                              now_ms=T0 + 100 + settings.admission_ttl_s * 1000)
    assert lapsed.value.extra["reason"] == "admission_expired"


async def test_an_anonymous_fan_is_admitted_when_their_user_id_is_the_token(redis, aredis, keys, settings, db, runtime):
    event = make_event()
    token, _, _ = join(redis, keys, settings, event, None, T0 + 1)
    admit_waves(runtime, now_ms=T0 + 10)
    assert (await check_admission(aredis, keys, settings, event, token.text, token.text, now_ms=T0 + 20)).position == 1
    with pytest.raises(Forbidden):
        await check_admission(aredis, keys, settings, event, token.text, "someone-else", now_ms=T0 + 20)


async def test_expiry_counts_lapsed_admissions_that_were_not_used_once(redis, aredis, keys, settings, db, runtime):
    event, fans = await _admitted_room(redis, keys, settings, runtime, n=2)
    await mark_used(aredis, keys, str(event.id), 1)
    await mark_used(aredis, keys, str(event.id), 1)
    lapsed = T0 + 100 + settings.admission_ttl_s * 1000
    assert expire_admissions(runtime, now_ms=lapsed - 1) == 0
    assert expire_admissions(runtime, now_ms=lapsed) == 1
    assert expire_admissions(runtime, now_ms=lapsed + 1000) == 0
    stats = queue_stats(redis, keys, str(event.id))
    assert (stats["used"], stats["expired"]) == (1, 1)
    # A reservation accepted just before the window closed is recorded after the sweep counted it.
    await mark_used(aredis, keys, str(event.id), 2)
    stats = queue_stats(redis, keys, str(event.id))
    assert (stats["used"], stats["expired"]) == (2, 0)


def test_queue_stats_describe_the_queue_for_operators(redis, keys, settings, db, runtime):
    event = make_event(wave_size=2, wave_interval_s=2.0)
    for i in range(3):
        join(redis, keys, settings, event, f"early-{i}", T0 - 1000)
    for i in range(4):
        join(redis, keys, settings, event, f"late-{i}", T0 + i)
    for t in (T0 + 10, T0 + 2010, T0 + 4010):
        admit_waves(runtime, now_ms=t)
    stats = queue_stats(redis, keys, str(event.id))
    assert {k: stats[k] for k in ("total", "waiting", "admitted", "admitted_up_to", "prequeue_size", "expired")} == {
        "total": 7, "waiting": 1, "admitted": 6, "admitted_up_to": 6, "prequeue_size": 3, "expired": 0}
    assert stats["admission_rate_per_s"] == pytest.approx(1.0)


def test_missing_stock_counters_are_rebuilt_from_the_database_before_a_wave(redis, keys, settings, db, runtime):
    event = make_event(wave_size=10)
    make_tier(event, capacity=2)
    for i in range(5):
        join(redis, keys, settings, event, f"fan-{i}", T0 - 1000)
    assert admit_waves(runtime, now_ms=T0) == 2
    assert store.read_stock(redis, keys, str(event.id)).available == 2


def test_a_draw_that_loses_its_lease_stops_unrevealed_and_the_next_tick_finishes_it(redis, keys, settings, db, runtime):
    from models.waiting_room import fairness
    from models.waiting_room.lease import LeaseLost

    event = make_event()
    joined = [join(redis, keys, settings, event, f"fan-{i}", T0 - 1000)[0] for i in range(30)]

    class LostLease:  # another scheduler took over: the key holds its nonce, not ours
        key, nonce = keys.room_lease(str(event.id)), "not-the-holder"

        def extend(self) -> None:
            raise LeaseLost(self.key)

    redis.set(keys.room_lease(str(event.id)), "the-other-scheduler", px=1)
    with pytest.raises(LeaseLost):
        fairness.open_prequeue(redis, keys, settings.secret_bytes, str(event.id), T0, T0 + 10**9, lease=LostLease())
    assert not store.read_counters(redis, keys, str(event.id)).opened
    assert public_document(str(event.id))["salt"] is None
    admit_waves(runtime, now_ms=T0 + 1000)
    assert sorted(position_of(redis, keys, event, t) for t in joined) == list(range(1, 31))
    assert public_document(str(event.id))["salt"] is not None


def test_a_batch_of_positions_is_marked_used_in_one_call_each_counted_once(redis, keys, db):
    event = make_event()
    mark_used_sync(redis, keys, str(event.id), 1, 2, 2, 5)
    mark_used_sync(redis, keys, str(event.id), 5, 6)  # a redelivered batch overlapping the first
    assert int(redis.hget(keys.room(str(event.id)), "used")) == 4
    assert [redis.getbit(keys.room_used(str(event.id)), p) for p in (1, 2, 3, 5, 6)] == [1, 1, 0, 1, 1]
