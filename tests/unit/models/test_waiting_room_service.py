"""The web tier's RoomService: join and status through the batcher and the per-process caches."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from models.catalog.snapshot import load_snapshot
from models.errors import EventNotOnSale, NotFound, SoldOut
from models.metrics import JOINS, flush_tallies
from models.tables import Event, FairnessRecord
from models.timestamps import iso
from models.waiting_room import RoomService, admit_waves, store, tokens
from tests.unit.models.test_waiting_room import ON_SALE, T0, make_event, make_tier


async def _blocking(fn, *args):
    return fn(*args)


def make_snapshot(settings, **fields):
    """An event as the web tier sees it (wave settings resolved to the defaults)."""
    event = make_event(**fields)
    return load_snapshot(str(event.id), settings.wave_size, settings.wave_interval_s)


@pytest.fixture
def service(aredis, keys, settings, db):
    return RoomService(redis=aredis, keys=keys, settings=settings, run_blocking=_blocking)


async def test_the_fairness_commitment_exists_before_the_first_fan_enters_the_pre_queue(service, settings):
    event = make_snapshot(settings)
    assert FairnessRecord.get_or_none(FairnessRecord.event == event.id) is None
    result = await service.join(event, "fan-1", now_ms=T0 - 1000)
    assert result.position is None and result.created
    assert FairnessRecord.get_or_none(FairnessRecord.event == event.id) is not None


async def test_joins_report_the_queue_total_and_the_room_state(service, settings):
    event = make_snapshot(settings)
    await service.join(event, "fan-1", now_ms=T0 - 1000)
    late = await service.join(event, "fan-2", now_ms=T0 + 1000)
    assert (late.position, late.total, late.created) == (2, 2, True)
    doc = late.document(event)
    assert doc["prequeue"] is False and doc["onSaleAt"] == iso(ON_SALE)


async def test_joins_are_counted_new_or_rejoin_once_the_tallies_are_flushed(service, settings):
    event = make_snapshot(settings)
    flush_tallies()
    new, rejoin = JOINS.labels("new")._value.get(), JOINS.labels("rejoin")._value.get()
    for fan in ("fan-1", "fan-2", "fan-1"):
        await service.join(event, fan, now_ms=T0 + 1000)
    flush_tallies()
    assert (JOINS.labels("new")._value.get(), JOINS.labels("rejoin")._value.get()) == (new + 2, rejoin + 1)


@pytest.mark.parametrize("status", ["closed", "canceled"])
async def test_a_finished_event_refuses_joins_with_its_status_as_the_reason(service, settings, status):
    event = make_snapshot(settings, status=status)
    with pytest.raises(EventNotOnSale) as info:
        await service.join(event, "fan-1", now_ms=T0)
    assert info.value.extra["reason"] == status


async def test_a_join_answers_the_generation_of_the_room_it_entered_though_this_process_saw_it_before_it_opened(
        aredis, keys, settings, db):
    # Two web processes: the second read the room before the first opened it (its view is cached).
    first, second = (RoomService(redis=aredis, keys=keys, settings=settings, run_blocking=_blocking) for _ in range(2))
    event = make_snapshot(settings)
    assert (await second.rooms.get(str(event.id))).counters.live_since_ms == 0
    opener = await first.join(event, "fan-1", now_ms=T0 - 1000)
    later = await second.join(event, "fan-2", now_ms=T0 - 900)
    progress = await second.progress(event, now_ms=T0 - 900)
    assert opener.generation == later.generation == progress.document["roomGeneration"] != 0
    await first.aclose()
    await second.aclose()


async def test_a_join_follows_its_event_when_the_on_sale_and_the_start_move(service, settings, redis, keys, runtime):
    # The join's script call is kept per event (its key names); the instants come from the event.
    event = make_snapshot(settings)
    early = await service.join(event, "fan-1", now_ms=T0 - 1000)
    assert early.position is None and early.state == "waiting"
    expiry = redis.pttl(keys.room(str(event.id)))
    moved = dataclasses.replace(event, on_sale_at=ON_SALE - timedelta(seconds=2),
                                starts_at=event.starts_at + timedelta(days=30))
    late = await service.join(moved, "fan-2", now_ms=T0 - 1000)
    assert (late.position, late.state, late.document(moved)["prequeue"]) == (2, "sale_open", False)
    assert late.document(moved)["onSaleAt"] == iso(ON_SALE - timedelta(seconds=2)) != early.document(event)["onSaleAt"]
    # The join's bucket expires with the moved event at once; the room's keys from the next tick.
    late_bucket = store.bucket_key(keys, str(event.id), tokens.issue(settings.secret_bytes, str(event.id), "fan-2"))
    assert redis.pttl(late_bucket) > expiry + 29 * 86_400_000
    Event.update(on_sale_at=moved.on_sale_at, starts_at=moved.starts_at).where(Event.id == event.id).execute()
    admit_waves(runtime, now_ms=T0 - 1000)
    assert redis.pttl(keys.room(str(event.id))) > expiry + 29 * 86_400_000


async def test_a_join_after_the_room_was_rebuilt_answers_the_new_generation(service, settings, redis, keys):
    event = make_snapshot(settings)
    first = await service.join(event, "fan-1", now_ms=T0 + 1)
    room = keys.room(str(event.id))
    redis.delete(*redis.keys(room + "*"))  # lost with Redis, then rebuilt (live: the rebuild's time)
    redis.hset(room, mapping={"live": first.generation + 777, "seq": 1, "pclosed": T0 + 1})
    service.rooms.forget(str(event.id))  # the cached view ages out
    again = await service.join(event, "fan-2", now_ms=T0 + 2)
    assert (again.generation, again.position) == (first.generation + 777, 2)


async def test_a_remembered_position_of_a_room_rebuilt_since_is_looked_up_though_the_queue_grew_back_meanwhile(
        service, aredis, settings, redis, keys):
    other = RoomService(redis=aredis, keys=keys, settings=settings, run_blocking=_blocking)  # another web process
    event = make_snapshot(settings)
    lost = await service.join(event, "fan-1", now_ms=T0 + 1)
    assert (await service.status(event, lost.token, now_ms=T0 + 2))["position"] == 1  # this process remembers it
    room = keys.room(str(event.id))
    redis.delete(*redis.keys(room + "*"))  # lost with Redis before the tick copied it; rebuilt without it
    redis.hset(room, mapping={"live": lost.generation + 777, "seq": 0, "pclosed": T0 + 1})
    # The rush goes on elsewhere: the queue is longer than this process last saw it before it reads again.
    taken = [await other.join(event, f"fan-{i}", now_ms=T0 + 3) for i in (2, 3)]
    assert [t.position for t in taken] == [1, 2]
    service.rooms.forget(str(event.id))
    with pytest.raises(NotFound):
        await service.status(event, lost.token, now_ms=T0 + 4)
    await other.aclose()


async def test_a_sold_out_event_refuses_joins(service, settings, redis, keys):
    event = make_snapshot(settings)
    tier = make_tier(Event.get_by_id(event.id))
    redis.hset(keys.stock(event.id), mapping={str(tier.id): 0, f"held:{tier.id}": 0})
    with pytest.raises(SoldOut):
        await service.join(event, "fan-1", now_ms=T0)


async def test_repeat_polls_of_a_drawn_position_are_answered_without_redis(service, settings, redis, keys):
    event = make_snapshot(settings)
    joined = await service.join(event, "fan-1", now_ms=T0 + 1)
    first = await service.status(event, joined.token, now_ms=T0 + 2)
    redis.delete(*redis.keys(keys.room(str(event.id)) + ":b:*"))
    again = await service.status(event, joined.token, now_ms=T0 + 3)
    assert first["position"] == again["position"] == 1


async def test_a_pre_queue_place_is_looked_up_again_until_it_is_drawn(service, settings, runtime):
    event = make_snapshot(settings, paused=True)
    joined = await service.join(event, "fan-1", now_ms=T0 - 1000)
    assert (await service.status(event, joined.token, now_ms=T0 - 500))["position"] is None
    admit_waves(runtime, now_ms=T0)
    service.rooms.forget(str(event.id))
    assert (await service.status(event, joined.token, now_ms=T0 + 500))["position"] == 1


async def test_a_burst_of_reads_of_the_revealed_draw_makes_one_database_read_and_an_unrevealed_one_is_read_again(
        aredis, keys, settings, db, runtime):
    reads = []

    async def blocking(fn, *args):
        reads.append(fn.__name__)
        await asyncio.sleep(0.01)  # the database takes a moment: every fan of the burst arrives meanwhile
        return fn(*args)

    service = RoomService(redis=aredis, keys=keys, settings=settings, run_blocking=blocking)
    event = make_snapshot(settings, paused=True)
    await service.join(event, "fan-1", now_ms=T0 - 1000)
    reads.clear()
    assert (await service.fairness_answer(event.id)).max_age_s == 0
    assert (await service.fairness_answer(event.id)).document["salt"] is None
    assert reads == ["public_document"] * 2  # not revealed yet: never kept
    admit_waves(runtime, now_ms=T0)
    reads.clear()
    answers = await asyncio.gather(*(service.fairness_answer(event.id) for _ in range(50)))
    assert reads == ["public_document"]
    assert {a.max_age_s for a in answers} == {3600} and answers[0].document["prequeue_size"] == 1
    await service.fairness_answer(event.id)
    assert reads == ["public_document"]


async def test_a_room_reset_under_the_service_voids_remembered_positions(service, redis, keys, settings):
    event = make_snapshot(settings)
    joined = [await service.join(event, f"fan-{i}", now_ms=T0 + i) for i in range(3)]
    service.rooms.forget(str(event.id))
    assert (await service.status(event, joined[2].token, now_ms=T0 + 10))["position"] == 3
    redis.delete(*redis.keys(keys.room(str(event.id)) + "*"))  # Redis lost the room
    await service.join(event, "someone-new", now_ms=T0 + 20)
    service.rooms.forget(str(event.id))
    with pytest.raises(NotFound):
        await service.status(event, joined[2].token, now_ms=T0 + 30)


async def test_a_token_remembered_for_one_event_is_still_unknown_to_another(service, settings):
    event, other = make_snapshot(settings), make_snapshot(settings, on_sale_at=ON_SALE + timedelta(hours=1))
    joined = await service.join(event, "fan-1", now_ms=T0 + 1)
    await service.status(event, joined.token, now_ms=T0 + 2)
    with pytest.raises(NotFound):
        await service.status(other, joined.token, now_ms=T0 + 2)


async def test_the_room_view_cache_keeps_a_bounded_number_of_events(aredis, keys):
    from models.waiting_room.room import RoomCache

    rooms = RoomCache(aredis, keys, max_events=10)
    for i in range(100):
        await rooms.get(f"00000000-0000-0000-0000-{i:012d}")
    assert len(rooms) == 10


async def test_remembered_positions_are_kept_for_a_bounded_number_of_events(service, settings, monkeypatch):
    from models.waiting_room import service as service_module

    monkeypatch.setattr(service_module, "POSITION_CACHE_EVENTS", 3)
    for i in range(6):
        event = make_snapshot(settings, on_sale_at=ON_SALE + timedelta(hours=i))
        joined = await service.join(event, "fan-1", now_ms=T0 + 1)
        await service.status(event, joined.token, now_ms=T0 + 2)
    assert len(service._positions) == 3


async def test_the_joins_script_calls_are_kept_for_a_bounded_number_of_events(service, settings, monkeypatch):
    from models.waiting_room import service as service_module

    monkeypatch.setattr(service_module, "JOIN_CALL_EVENTS", 3)
    events = [make_snapshot(settings, on_sale_at=ON_SALE + timedelta(hours=i)) for i in range(6)]
    for event in events:
        await service.join(event, "fan-1", now_ms=T0 + 1)
    assert list(service._join_calls) == [str(e.id) for e in events[3:]]
    again = await service.join(events[0], "fan-1", now_ms=T0 + 2)  # dropped, made again: the same place
    assert (again.created, again.position) == (False, 1)


async def test_a_full_position_cache_forgets_the_fan_remembered_first(service, settings, monkeypatch):
    from models.waiting_room import service as service_module

    monkeypatch.setattr(service_module, "POSITION_CACHE_SIZE", 3)
    event = make_snapshot(settings)
    fans = [await service.join(event, f"fan-{i}", now_ms=T0 + 1 + i) for i in range(4)]
    for joined in fans:
        await service.status(event, joined.token, now_ms=T0 + 10)

    remembered = service._positions[str(event.id)][1]
    assert list(remembered) == [f.token for f in fans[1:]]
    assert [remembered[f.token] for f in fans[1:]] == [f.position for f in fans[1:]]


async def test_the_progress_is_answered_at_once_from_a_fresh_room_view_only(service, settings):
    event = make_snapshot(settings)
    await service.join(event, "fan-1", now_ms=T0 + 1)
    service.rooms.forget(str(event.id))
    assert service.known_progress(event) is None
    read = await service.progress(event)
    known = service.known_progress(event)
    assert (known.document, known.etag) == (read.document, read.etag)
