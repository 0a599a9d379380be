"""The waiting room survives a Redis data loss: joins are copied to the database, only copied
places are admitted, and the wave tick rebuilds the room with every place where it was."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest

from models import metrics
from models.errors import RoomRestoring
from models.redis import scripts
from models.tables import AdmissionWave, QueueEntry, Reservation
from models.waiting_room import admit_waves, check_admission, store, tokens
from models.waiting_room.fairness import fairness_hmac, public_document
from models.waiting_room.journal import flush_journal
from models.waiting_room.restore import ensure_live, room_is_new
from tests.unit.models.test_waiting_room import ON_SALE, T0, join, make_event, make_tier, position_of


def lose_redis(redis, keys) -> None:
    """What a Redis restart without persistence does to this deployment's keys."""
    for key in redis.scan_iter(match=f"{keys.prefix}*"):
        redis.delete(key)


def snapshot(redis, keys) -> dict[str, tuple[int, bytes]]:
    """Every key of this deployment as DUMP has it, with its time to live."""
    return {key: (redis.pttl(key), redis.execute_command("DUMP", key, NEVER_DECODE=True))
            for key in redis.scan_iter(match=f"{keys.prefix}*")}


def roll_back(redis, keys, saved: dict[str, tuple[int, bytes]]) -> None:
    """What a Redis restarted from an AOF written every second, or a failover to a replica that
    lagged, does: every key as it was at an earlier instant, the room still live."""
    lose_redis(redis, keys)
    for key, (ttl_ms, dumped) in saved.items():
        redis.execute_command("RESTORE", key, max(ttl_ms, 0), dumped)


def places(redis, keys, event, fans) -> list[int | None]:
    return [position_of(redis, keys, event, t) for t in fans]


def room_of(redis, keys, event) -> dict:
    """The room's counters and waves, without the fields that record when things happened."""
    raw = redis.hgetall(keys.room(str(event.id)))
    kept = {k: v for k, v in raw.items()
            if k not in ("live", "pclosed", "opened", "next_due", "exp_pos", "expired") and v != "0"}
    waves = [m.rsplit(":", 1)[0] for m in redis.zrange(keys.room_waves(str(event.id)), 0, -1)]
    return {"counters": kept, "waves": waves}


# -- the journal ----------------------------------------------------------------------------

def test_the_tick_copies_every_join_to_the_database_and_empties_the_journal(redis, keys, settings, db, runtime):
    event = make_event(on_sale_at=ON_SALE + timedelta(days=1))  # the tick keeps rooms before on-sale too
    fans = [join(redis, keys, settings, event, f"fan-{i}", T0 - 1000)[0] for i in range(5)]
    admit_waves(runtime, now_ms=T0)
    rows = dict(QueueEntry.select(QueueEntry.field, QueueEntry.position).where(QueueEntry.event == event.id).tuples())
    assert rows == {t.field: 0 for t in fans}
    assert redis.llen(keys.room_journal(str(event.id))) == 0


def test_copying_the_journal_again_after_a_crash_before_the_trim_changes_nothing(redis, keys, settings, db):
    event = make_event()
    join(redis, keys, settings, event, "fan-1", T0 + 1)
    entries = redis.lrange(keys.room_journal(str(event.id)), 0, -1)
    assert flush_journal(redis, keys, str(event.id)) == 1
    redis.rpush(keys.room_journal(str(event.id)), *entries)  # as if the trim never happened
    assert flush_journal(redis, keys, str(event.id)) == 1
    assert QueueEntry.select().count() == 1
    assert store.read_counters(redis, keys, str(event.id)).durable == 1


def test_a_long_copy_extends_the_lease_per_chunk_and_stops_when_it_is_lost(redis, keys, settings, db, monkeypatch):
    from models.waiting_room import journal
    from models.waiting_room.lease import Lease, LeaseLost

    monkeypatch.setattr(journal, "JOURNAL_CHUNK", 2)
    event = make_event()
    for i in range(5):
        join(redis, keys, settings, event, f"fan-{i}", T0 + i)
    lease = Lease(redis, keys.room_lease(str(event.id)))
    assert lease.acquire()
    extended = []

    def extend():
        extended.append(1)
        if len(extended) == 2:
            raise LeaseLost(lease.key)

    monkeypatch.setattr(lease, "extend", extend)
    with pytest.raises(LeaseLost):
        flush_journal(redis, keys, str(event.id), lease)
    assert QueueEntry.select().count() == 4 and redis.llen(keys.room_journal(str(event.id))) == 1
    assert store.read_counters(redis, keys, str(event.id)).durable == 4


def test_a_copier_whose_lease_another_took_copies_but_never_trims(redis, keys, settings, db):
    from models.waiting_room.lease import Lease, LeaseLost

    event = make_event()
    for i in range(3):
        join(redis, keys, settings, event, f"fan-{i}", T0 + i)
    stale = Lease(redis, keys.room_lease(str(event.id)))
    redis.set(keys.room_lease(str(event.id)), "the-new-holder")
    with pytest.raises(LeaseLost):
        flush_journal(redis, keys, str(event.id), stale)
    assert redis.llen(keys.room_journal(str(event.id))) == 3  # the holder copies and trims them


def test_a_wave_admits_only_places_the_database_holds(redis, keys, settings, db, runtime):
    event = make_event(wave_size=10)
    for i in range(4):
        join(redis, keys, settings, event, f"fan-{i}", T0 + i)
    redis.delete(keys.room_journal(str(event.id)))  # these joins never reached the database
    assert admit_waves(runtime, now_ms=T0 + 100) == 0
    assert store.read_counters(redis, keys, str(event.id)).up_to == 0


def test_the_first_join_of_a_new_room_and_the_tick_open_it_without_a_restore(redis, keys, settings, db):
    event = make_event()
    assert room_is_new(str(event.id))
    assert ensure_live(redis, keys, settings.secret_bytes, str(event.id), 1.0, T0, T0 + 86_400_000) is False
    assert store.read_counters(redis, keys, str(event.id)).live


# -- the restore ----------------------------------------------------------------------------

def test_after_a_redis_loss_every_fan_keeps_their_place_and_the_waves_go_on(redis, keys, settings, db, runtime):
    event = make_event(wave_size=3, wave_interval_s=5.0)
    make_tier(event, capacity=100)
    early = [join(redis, keys, settings, event, f"early-{i}", T0 - 5000 + i)[0] for i in range(6)]
    admit_waves(runtime, now_ms=T0)  # draw + first wave (1..3)
    late = [join(redis, keys, settings, event, f"late-{i}", T0 + 100 + i)[0] for i in range(3)]
    admit_waves(runtime, now_ms=T0 + 5000)  # second wave (4..6), and the late joins are copied
    Reservation.create(id=uuid.uuid4(), event=event, tier=event.tiers[0], user_id="early-0", quantity=1, status="held",
                       expires_at=ON_SALE + timedelta(minutes=5))
    before_places, before_room = places(redis, keys, event, early + late), room_of(redis, keys, event)
    before_hmacs = redis.execute_command("GET", keys.room_hmacs(str(event.id)), NEVER_DECODE=True)

    lose_redis(redis, keys)
    admit_waves(runtime, now_ms=T0 + 6000)  # not due yet: the restore only

    assert places(redis, keys, event, early + late) == before_places
    restored = room_of(redis, keys, event)
    assert restored["waves"] == before_room["waves"]
    assert restored["counters"] | {"used": "1"} == before_room["counters"] | {"used": "1"}
    assert redis.execute_command("GET", keys.room_hmacs(str(event.id)), NEVER_DECODE=True) == before_hmacs
    early_0 = before_places[0]
    assert redis.getbit(keys.room_used(str(event.id)), early_0) == 1
    assert store.read_counters(redis, keys, str(event.id)).used == 1
    # New fans queue behind everyone who was there, and the next wave comes on the old grid.
    assert join(redis, keys, settings, event, "after", T0 + 7000)[2] == 10
    assert admit_waves(runtime, now_ms=T0 + 10_000) == 3
    assert [(w.first_position, w.last_position) for w in AdmissionWave.select().order_by(AdmissionWave.first_position)] \
        == [(1, 3), (4, 6), (7, 9)]


def test_a_loss_before_on_sale_keeps_the_pre_queue_and_the_draw_is_the_one_it_would_have_been(
        redis, keys, settings, db, runtime):
    twin_a, twin_b = make_event(), make_event()
    fans = {}
    for event in (twin_a, twin_b):
        fans[event.id] = [join(redis, keys, settings, event, f"fan-{i}", T0 - 9000 + i)[0] for i in range(12)]
    admit_waves(runtime, now_ms=T0 - 5000)  # the pre-sale tick copies the joins
    for key in redis.scan_iter(match=f"{keys.prefix}room:{{{twin_b.id}}}*"):
        redis.delete(key)  # only twin B loses its room
    admit_waves(runtime, now_ms=T0 - 4000)
    assert store.read_counters(redis, keys, str(twin_b.id)).pre == 12
    assert places(redis, keys, twin_b, fans[twin_b.id]) == [0] * 12
    admit_waves(runtime, now_ms=T0)  # the draw
    for event in (twin_a, twin_b):
        salt = bytes.fromhex(public_document(str(event.id))["salt"])
        by_hmac = sorted(fans[event.id], key=lambda t: fairness_hmac(salt, t.text))
        assert places(redis, keys, event, by_hmac) == list(range(1, 13))


async def test_joins_and_admission_checks_wait_while_the_room_is_lost_and_not_restored(
        redis, aredis, keys, settings, db, runtime):
    event = make_event(wave_size=5)
    fan = join(redis, keys, settings, event, "fan-0", T0 + 1)[0]
    admit_waves(runtime, now_ms=T0 + 100)
    lose_redis(redis, keys)
    call_keys, args = store.JoinCall(keys, str(event.id))(tokens.issue(settings.secret_bytes, str(event.id), "new"),
                                      T0 + 200, T0, T0 + 86_400_000)
    assert scripts(redis).get("room_join")(keys=call_keys, args=args)[0] == -1
    assert not room_is_new(str(event.id))
    with pytest.raises(RoomRestoring):
        await check_admission(aredis, keys, settings, event, fan.text, "fan-0", now_ms=T0 + 300)
    admit_waves(runtime, now_ms=T0 + 400)
    admission = await check_admission(aredis, keys, settings, event, fan.text, "fan-0", now_ms=T0 + 500)
    assert admission.position == 1


def test_a_restore_killed_half_way_is_done_again_whole_on_the_next_tick(redis, keys, settings, db, runtime):
    event = make_event(wave_size=2)
    fans = [join(redis, keys, settings, event, f"fan-{i}", T0 + i)[0] for i in range(4)]
    admit_waves(runtime, now_ms=T0 + 100)
    before = places(redis, keys, event, fans), room_of(redis, keys, event)
    lose_redis(redis, keys)
    redis.hset(keys.room(str(event.id)), mapping={"up_to": 99, "used": 7})  # debris of a half-done restore
    admit_waves(runtime, now_ms=T0 + 200)
    assert (places(redis, keys, event, fans), room_of(redis, keys, event)) == before


def test_a_wave_redis_loses_right_after_admitting_it_is_restored_not_admitted_again(
        redis, keys, settings, db, runtime, monkeypatch):
    from models.waiting_room import waves

    event = make_event(wave_size=2, wave_interval_s=5.0)
    for i in range(5):
        join(redis, keys, settings, event, f"fan-{i}", T0 + i)
    monkeypatch.setattr(waves, "persist_waves", lambda *args: 0)  # the step dies before its copy
    assert admit_waves(runtime, now_ms=T0 + 100) == 2
    lose_redis(redis, keys)
    monkeypatch.undo()
    admit_waves(runtime, now_ms=T0 + 200)  # restore; the next wave is not due yet
    assert store.read_counters(redis, keys, str(event.id)).up_to == 2
    assert admit_waves(runtime, now_ms=T0 + 5100) == 2
    assert [(w.first_position, w.last_position) for w in AdmissionWave.select().order_by(AdmissionWave.first_position)] \
        == [(1, 2), (3, 4)]


def tick_while_another_scheduler_moves_first(redis, runtime, monkeypatch, their_move) -> int:
    """One tick of ours, in which ``their_move(admit_script, keys)`` runs just before our
    compare-and-set (another scheduler that still thinks it holds the lease)."""
    real = scripts(redis).get("room_admit")

    def raced(keys=None, args=None):
        their_move(real, keys, args)
        return real(keys=keys, args=args)

    class RacedScripts:  # the registry as the wave step sees it, room_admit raced
        def __init__(self, client) -> None:
            self._scripts = scripts(client)

        def get(self, name: str):
            return raced if name == "room_admit" else self._scripts.get(name)

    from models.waiting_room import waves

    monkeypatch.setattr(waves, "scripts", RacedScripts)
    return admit_waves(runtime, now_ms=T0 + 100)


def test_a_wave_whose_admission_someone_else_won_is_taken_back_out_of_the_database(
        redis, keys, settings, db, runtime, monkeypatch):
    event = make_event(wave_size=2)
    for i in range(3):
        join(redis, keys, settings, event, f"fan-{i}", T0 + i)

    def moved_admission(admit, keys, args):  # up_to moved, no wave of theirs starts where ours would
        redis.hset(keys[0], "up_to", 1)

    assert tick_while_another_scheduler_moves_first(redis, runtime, monkeypatch, moved_admission) == 0
    assert AdmissionWave.select().count() == 0


def test_a_wave_another_scheduler_admitted_first_replaces_the_row_we_wrote_ahead(
        redis, keys, settings, db, runtime, monkeypatch):
    event = make_event(wave_size=2)
    for i in range(3):
        join(redis, keys, settings, event, f"fan-{i}", T0 + i)

    def their_wave(admit, keys, args):  # their wave 1..1 lands first
        admit(keys=keys, args=[0, 1, T0 + 50, T0 + 5050, 1, args[5]])

    assert tick_while_another_scheduler_moves_first(redis, runtime, monkeypatch, their_wave) == 0
    assert [(w.first_position, w.last_position) for w in AdmissionWave.select()] == [(1, 1)]


def test_a_partial_loss_that_keeps_the_journal_gives_no_place_twice(redis, keys, settings, db, runtime):
    event = make_event(wave_size=10, wave_interval_s=60.0)
    fans = [join(redis, keys, settings, event, f"fan-{i}", T0 + i)[0] for i in range(3)]  # not copied yet
    redis.delete(keys.room(str(event.id)))  # evicted: the room hash only
    admit_waves(runtime, now_ms=T0 + 100)
    assert places(redis, keys, event, fans) == [1, 2, 3]
    assert join(redis, keys, settings, event, "newcomer", T0 + 200)[2] == 4


async def test_an_admission_check_on_a_half_restored_room_is_refused_with_retry(redis, aredis, keys, settings, db, runtime):
    event = make_event(wave_size=5)
    fan = join(redis, keys, settings, event, "fan-0", T0 + 1)[0]
    admit_waves(runtime, now_ms=T0 + 100)
    redis.hdel(keys.room(str(event.id)), "live")  # buckets written, counters not yet
    with pytest.raises(RoomRestoring):
        await check_admission(aredis, keys, settings, event, fan.text, "fan-0", now_ms=T0 + 300)


# -- Redis back, but behind -----------------------------------------------------------------

def test_a_redis_that_comes_back_behind_gives_every_copied_fan_their_place_back(redis, keys, settings, db, runtime):
    event = make_event(wave_size=10, wave_interval_s=60.0)
    first = [join(redis, keys, settings, event, f"first-{i}", T0 + i)[0] for i in range(3)]
    admit_waves(runtime, now_ms=T0 + 100)  # copied, and admitted
    saved = snapshot(redis, keys)
    late = [join(redis, keys, settings, event, f"late-{i}", T0 + 200 + i)[0] for i in range(3)]
    admit_waves(runtime, now_ms=T0 + 300)  # copied; no wave due
    generation = store.read_counters(redis, keys, str(event.id)).live_since_ms

    roll_back(redis, keys, saved)
    assert places(redis, keys, event, late) == [None] * 3  # the room is live and knows nothing of them
    admit_waves(runtime, now_ms=T0 + 400)

    assert places(redis, keys, event, first + late) == [1, 2, 3, 4, 5, 6]
    counters = store.read_counters(redis, keys, str(event.id))
    assert counters.live_since_ms != generation  # web processes forget the positions they remember
    assert (counters.up_to, counters.durable) == (3, 6)
    assert join(redis, keys, settings, event, "newcomer", T0 + 500)[2] == 7


def copied_past_a_saved_state(redis, keys, settings, runtime, late_fans: int = 3):
    """An on-sale room whose first fan, then ``late_fans`` more, were copied to the database,
    with Redis's state saved between the two copies. Returns (event, saved, the late tokens)."""
    event = make_event(wave_size=10, wave_interval_s=60.0)
    join(redis, keys, settings, event, "first", T0)
    admit_waves(runtime, now_ms=T0 + 100)
    saved = snapshot(redis, keys)
    late = [join(redis, keys, settings, event, f"late-{i}", T0 + 200 + i)[0] for i in range(late_fans)]
    admit_waves(runtime, now_ms=T0 + 300)
    return event, saved, late


def test_places_given_again_before_the_tick_noticed_are_held_by_both_fans(redis, keys, settings, db, runtime):
    event, saved, late = copied_past_a_saved_state(redis, keys, settings, runtime)
    roll_back(redis, keys, saved)
    again = [join(redis, keys, settings, event, f"again-{i}", T0 + 350 + i)[0] for i in range(3)]
    rolled_back = metrics.ROOM_ROLLBACKS._value.get()

    admit_waves(runtime, now_ms=T0 + 400)

    assert metrics.ROOM_ROLLBACKS._value.get() == rolled_back + 1
    assert places(redis, keys, event, late) == [2, 3, 4]
    assert places(redis, keys, event, again) == [2, 3, 4]  # shown to them already: nobody is moved back
    assert join(redis, keys, settings, event, "newcomer", T0 + 500)[2] == 5


def test_joins_wait_from_the_tick_that_finds_redis_behind_until_the_room_is_rebuilt(
        redis, keys, settings, db, runtime, monkeypatch):
    from models.waiting_room import restore

    event, saved, _ = copied_past_a_saved_state(redis, keys, settings, runtime, late_fans=1)
    roll_back(redis, keys, saved)

    def dies(*args, **kwargs):
        raise ConnectionError("the scheduler lost its database half way")

    monkeypatch.setattr(restore, "restore", dies)
    admit_waves(runtime, now_ms=T0 + 400)  # found behind, not rebuilt
    call_keys, args = store.JoinCall(keys, str(event.id))(tokens.issue(settings.secret_bytes, str(event.id), "new"),
                                      T0 + 450, T0, T0 + 86_400_000)
    assert scripts(redis).get("room_join")(keys=call_keys, args=args)[0] == -1  # refused: the web answers 503
    monkeypatch.undo()
    admit_waves(runtime, now_ms=T0 + 500)
    assert join(redis, keys, settings, event, "new", T0 + 600)[2] == 3


def test_a_redis_behind_before_the_draw_draws_every_pre_queue_fan_the_database_holds(
        redis, keys, settings, db, runtime):
    event = make_event()
    kept = [join(redis, keys, settings, event, f"kept-{i}", T0 - 9000 + i)[0] for i in range(4)]
    admit_waves(runtime, now_ms=T0 - 5000)
    saved = snapshot(redis, keys)
    lost = [join(redis, keys, settings, event, f"lost-{i}", T0 - 4000 + i)[0] for i in range(3)]
    admit_waves(runtime, now_ms=T0 - 3000)
    roll_back(redis, keys, saved)
    newcomer = join(redis, keys, settings, event, "newcomer", T0 - 2000)[0]

    admit_waves(runtime, now_ms=T0)  # the draw's copy finds fans Redis lost: offline, no draw
    assert public_document(str(event.id))["prequeue_size"] is None
    admit_waves(runtime, now_ms=T0 + 1000)  # restore, then the draw

    everyone = kept + lost + [newcomer]
    document = public_document(str(event.id))
    assert document["prequeue_size"] == 8
    salt = bytes.fromhex(document["salt"])
    by_hmac = sorted(everyone, key=lambda t: fairness_hmac(salt, t.text))
    assert places(redis, keys, event, by_hmac) == list(range(1, 9))


def test_a_room_redis_kept_is_never_rebuilt_though_a_copy_died_before_its_marks(
        redis, keys, settings, db, runtime, monkeypatch):
    from models.waiting_room import restore

    monkeypatch.setattr(restore, "restore", lambda *args, **kwargs: pytest.fail("rebuilt a room Redis kept"))
    event = make_event(wave_size=2, wave_interval_s=1.0)
    early = [join(redis, keys, settings, event, f"early-{i}", T0 - 9000 + i)[0] for i in range(3)]
    admit_waves(runtime, now_ms=T0 - 5000)
    admit_waves(runtime, now_ms=T0)  # the draw, and a wave
    late = [join(redis, keys, settings, event, f"late-{i}", T0 + 100 + i)[0] for i in range(3)]
    # A copy that committed and died before it raised `dur` and trimmed the journal:
    entries = redis.lrange(keys.room_journal(str(event.id)), 0, -1)
    QueueEntry.insert_many([{"event": event.id, "field": t.field, "position": p}
                            for t, p in zip(late, [4, 5, 6], strict=True)]).execute()
    assert len(entries) == 3
    for step in range(1, 6):
        admit_waves(runtime, now_ms=T0 + 1000 * step)
    assert sorted(places(redis, keys, event, early)) == [1, 2, 3] and places(redis, keys, event, late) == [4, 5, 6]
    assert store.read_counters(redis, keys, str(event.id)).up_to == 6


@pytest.mark.parametrize(("given_again", "lease_kept"), [(3, True), (4, True), (3, False)])
def test_a_redis_that_falls_behind_between_the_check_and_the_copy_is_caught_by_the_copy_or_the_next_tick(
        redis, keys, settings, db, runtime, monkeypatch, given_again, lease_kept):
    from models.waiting_room import journal

    event, saved, late = copied_past_a_saved_state(redis, keys, settings, runtime)
    copy = journal.flush_journal
    again = []

    def failover_then_copy(*args, **kwargs):  # the check has passed; Redis falls behind now
        if not again:
            lease = keys.room_lease(str(event.id))
            held = redis.get(lease)
            roll_back(redis, keys, saved)
            if lease_kept:  # Redis fell back to an instant after this step took its lease
                redis.set(lease, held, px=30_000)
            again.extend(join(redis, keys, settings, event, f"again-{i}", T0 + 350 + i)[0] for i in range(given_again))
        return copy(*args, **kwargs)

    monkeypatch.setattr(journal, "flush_journal", failover_then_copy)
    restores = metrics.ROOM_RESTORES._value.get()
    admit_waves(runtime, now_ms=T0 + 400)  # without its lease the step stops before it copies
    monkeypatch.undo()
    admit_waves(runtime, now_ms=T0 + 1400)

    assert metrics.ROOM_RESTORES._value.get() == restores + 1
    assert places(redis, keys, event, late) == [2, 3, 4]
    assert places(redis, keys, event, again) == [2, 3, 4, 5][:given_again]
    assert join(redis, keys, settings, event, "newcomer", T0 + 1500)[2] == max(4, 1 + given_again) + 1


def test_a_join_redis_placed_among_lost_pre_queue_fans_moves_behind_the_pre_queue_before_the_draw(
        redis, keys, settings, db, runtime):
    event = make_event(wave_size=100)
    kept = [join(redis, keys, settings, event, f"kept-{i}", T0 - 9000 + i)[0] for i in range(8)]
    admit_waves(runtime, now_ms=T0 - 5000)
    saved = snapshot(redis, keys)
    lost = [join(redis, keys, settings, event, f"lost-{i}", T0 - 4000 + i)[0] for i in range(2)]
    admit_waves(runtime, now_ms=T0 - 3000)
    roll_back(redis, keys, saved)
    # After on-sale, one in a bucket the draw reads: Redis counts 8 in the pre-queue, so place 9.
    user = next(f"after-{i}" for i in itertools.count()
                if tokens.issue(settings.secret_bytes, str(event.id), f"after-{i}").bucket == kept[0].bucket)
    after, _, given = join(redis, keys, settings, event, user, T0 + 100)
    assert given == 9
    restores_before = metrics.ROOM_RESTORES._value.get()

    admit_waves(runtime, now_ms=T0 + 200)  # the draw's copy finds fans Redis lost: offline
    admit_waves(runtime, now_ms=T0 + 1200)  # restore, draw, first wave
    admit_waves(runtime, now_ms=T0 + 6200)  # and a tick that must find nothing to restore

    assert public_document(str(event.id))["prequeue_size"] == 10
    assert sorted(places(redis, keys, event, kept + lost)) == list(range(1, 11))
    assert places(redis, keys, event, [after]) == [11]
    assert QueueEntry.get(QueueEntry.field == after.field).position == 11
    assert metrics.ROOM_RESTORES._value.get() - restores_before == 1
    assert join(redis, keys, settings, event, "newcomer", T0 + 6300)[2] == 12


def keep_the_lease(redis, keys, event, roll):
    """Roll Redis back to an instant after this step took its lease (the lease survives)."""
    lease = keys.room_lease(str(event.id))
    held = redis.get(lease)
    roll()
    redis.set(lease, held, px=30_000)


def test_a_redis_that_falls_behind_just_before_the_draw_still_draws_every_pre_queue_fan(
        redis, keys, settings, db, runtime, monkeypatch):
    event = make_event(wave_size=3, wave_interval_s=60.0)
    kept = [join(redis, keys, settings, event, f"kept-{i}", T0 - 9000 + i)[0] for i in range(4)]
    admit_waves(runtime, now_ms=T0 - 5000)
    saved = snapshot(redis, keys)
    lost = [join(redis, keys, settings, event, f"lost-{i}", T0 - 4000 + i)[0] for i in range(3)]
    admit_waves(runtime, now_ms=T0 - 3000)
    close = store.close_prequeue
    after = []

    def failover_then_close(*args, **kwargs):  # the tick's own checks have passed
        if not after:
            keep_the_lease(redis, keys, event, lambda: roll_back(redis, keys, saved))
            after.append(join(redis, keys, settings, event, "after", T0 + 1)[0])
        return close(*args, **kwargs)

    monkeypatch.setattr(store, "close_prequeue", failover_then_close)
    admit_waves(runtime, now_ms=T0)
    monkeypatch.undo()
    admit_waves(runtime, now_ms=T0 + 1000)

    document = public_document(str(event.id))
    assert document["prequeue_size"] == 7
    salt = bytes.fromhex(document["salt"])
    assert places(redis, keys, event, sorted(kept + lost, key=lambda t: fairness_hmac(salt, t.text))) \
        == list(range(1, 8))
    assert places(redis, keys, event, after) == [8]


def test_a_redis_that_falls_behind_between_a_copy_and_its_trim_keeps_the_joins_it_had_not_copied(
        redis, keys, settings, db, runtime, monkeypatch):
    from models.waiting_room import journal

    event = make_event(wave_size=10, wave_interval_s=1.0)
    join(redis, keys, settings, event, "first", T0)
    admit_waves(runtime, now_ms=T0 + 100)
    join(redis, keys, settings, event, "a2", T0 + 200)
    saved = snapshot(redis, keys)  # its journal holds a2 alone
    a3 = join(redis, keys, settings, event, "a3", T0 + 250)[0]
    check = journal._given_again
    b3 = []

    def check_then_failover(*args, **kwargs):  # the chunk [a2, a3] is read and checked
        found = check(*args, **kwargs)
        if not b3:
            keep_the_lease(redis, keys, event, lambda: roll_back(redis, keys, saved))
            b3.append(join(redis, keys, settings, event, "b3", T0 + 300)[0])  # journal [a2, b3]
        return found

    monkeypatch.setattr(journal, "_given_again", check_then_failover)
    admit_waves(runtime, now_ms=T0 + 1100)
    monkeypatch.undo()
    admit_waves(runtime, now_ms=T0 + 2100)

    assert places(redis, keys, event, [a3] + b3) == [3, 3]  # both were shown place 3
    copied = dict(QueueEntry.select(QueueEntry.field, QueueEntry.position).tuples())
    assert copied[a3.field] == copied[b3[0].field] == 3
    up_to = store.read_counters(redis, keys, str(event.id)).up_to
    assert up_to >= 3 and set(copied.values()) >= set(range(1, up_to + 1))  # every admitted place is stored


def test_pre_queue_fans_whose_bucket_expired_before_the_draw_are_drawn_all_the_same(redis, keys, settings, db, runtime):
    event = make_event()
    fans = [join(redis, keys, settings, event, f"fan-{i}", T0 - 9000 + i)[0] for i in range(6)]
    admit_waves(runtime, now_ms=T0 - 5000)
    gone = store.bucket_key(keys, str(event.id), fans[0])
    redis.delete(gone)  # expired: the pre-queue's count says 6, its members say fewer

    admit_waves(runtime, now_ms=T0)  # the draw's copy finds fans Redis lost: offline, no draw
    admit_waves(runtime, now_ms=T0 + 1000)  # restore, then the draw

    document = public_document(str(event.id))
    assert document["prequeue_size"] == 6
    salt = bytes.fromhex(document["salt"])
    assert places(redis, keys, event, sorted(fans, key=lambda t: fairness_hmac(salt, t.text))) == list(range(1, 7))
