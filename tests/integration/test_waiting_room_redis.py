"""The waiting room against real Redis and PostgreSQL: concurrent joins from many clients,
concurrent scheduler ticks, the compact bucket encoding the memory budget relies on, the lean
pipelined connection, and (imported) every HTTP test of tests/unit/web/test_waiting_room.py."""

from __future__ import annotations

import asyncio
import itertools
import threading
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from models.ratelimit import Policy
from models.redis import connect_async, connect_sync, scripts
from models.tables import AdmissionWave, Event, QueueEntry
from models.waiting_room import RoomService, admit_waves, store, tokens, waves
from tests import factories
from tests.unit.web.test_waiting_room import *  # noqa: F403  (the HTTP tests again, on real servers)
from workers.runtime import Runtime

#: Web processes simulated by independent clients, and fans per run.
CLIENTS = 4
FANS = 300


#: A scheduled event (every test says when it goes on sale).
make_event = partial(factories.make_event, status="scheduled")


async def _services(settings, keys):
    clients = [connect_async(settings.redis_url) for _ in range(CLIENTS)]

    async def blocking(fn, *args):
        return await asyncio.to_thread(fn, *args)

    return clients, [RoomService(redis=c, keys=keys, settings=settings, run_blocking=blocking) for c in clients]


def _positions(redis, keys, settings, event_id: str, users: list[str]) -> list[int]:
    pipe = redis.pipeline(transaction=False)
    for user in users:
        token = tokens.issue(settings.secret_bytes, event_id, user)
        pipe.hget(store.bucket_key(keys, event_id, token), token.field)
    return [int(v) for v in pipe.execute()]


def expiries(redis, *names: str) -> list[int]:
    """Each key's expire-at in ms (-1: none, -2: no such key)."""
    return [redis.execute_command("PEXPIRETIME", name) for name in names]


async def test_hundreds_of_concurrent_joins_from_several_clients_get_distinct_gapless_positions(
        settings, keys, redis, aredis, db):
    event = make_event(on_sale_in_s=3600, wave_size=50)
    event_id = str(event.id)
    clients, services = await _services(settings, keys)
    try:
        snapshot = Event.get_by_id(event.id)
        early = [f"early-{i}" for i in range(FANS)]
        late = [f"late-{i}" for i in range(FANS)]
        # Every fan joins twice at once, through different clients: one place each.
        await asyncio.gather(*(services[i % CLIENTS].join(snapshot, u) for i, u in enumerate(early * 2)))
        Event.update(on_sale_at=datetime.now(UTC) - timedelta(seconds=1)).where(Event.id == event.id).execute()
        snapshot = Event.get_by_id(event.id)
        results = await asyncio.gather(*(services[i % CLIENTS].join(snapshot, u) for i, u in enumerate(late * 2)))
        anonymous = await asyncio.gather(*(services[i % CLIENTS].join(snapshot, None) for i in range(FANS)))
    finally:
        for client in clients:
            await client.aclose()
    assert sum(r.created for r in results) == FANS
    assert len({r.token for r in anonymous}) == FANS
    admit_waves(Runtime(settings, redis, keys))
    counters = store.read_counters(redis, keys, event_id)
    assert (counters.pre, counters.total) == (FANS, 3 * FANS)
    early_positions = _positions(redis, keys, settings, event_id, early)
    late_positions = _positions(redis, keys, settings, event_id, late)
    anonymous_positions = [r.position for r in anonymous]
    assert sorted(early_positions) == list(range(1, FANS + 1))
    assert sorted(late_positions + anonymous_positions) == list(range(FANS + 1, 3 * FANS + 1))


def test_two_schedulers_ticking_at_once_admit_each_position_exactly_once(settings, keys, redis, db):
    event = make_event(on_sale_in_s=-1, wave_size=7, wave_interval_s=0.5)
    event_id = str(event.id)
    redis.hset(keys.room(event_id), "live", 1)  # a new room, as the first join through the web opens it
    for i in range(200):
        token = tokens.issue(settings.secret_bytes, event_id, f"fan-{i}")
        call_keys, args = store.JoinCall(keys, event_id)(token, 2, 1, 2**42)  # after on-sale: first come
        scripts(redis).get("room_join")(keys=call_keys, args=args)
    start_ms = int(datetime.now(UTC).timestamp() * 1000)
    barrier = threading.Barrier(2)
    admitted: list[int] = []

    def scheduler() -> None:
        client = connect_sync(settings.redis_url)
        rt = Runtime(settings, client, keys)
        for tick in range(40):
            barrier.wait()
            admitted.append(admit_waves(rt, now_ms=start_ms + tick * 500))
        client.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    up_to = store.read_counters(redis, keys, event_id).up_to
    assert sum(admitted) == up_to == 200
    rows = [(w.first_position, w.last_position) for w in AdmissionWave.select().where(AdmissionWave.event == event.id)
            .order_by(AdmissionWave.first_position)]
    assert rows[0][0] == 1 and rows[-1][1] == 200
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(rows))


def test_a_limited_join_writes_its_place_journal_line_and_limit_states_spelled_as_their_readers_expect(
        settings, keys, redis, db):
    event_id = str(make_event(on_sale_in_s=-1).id)
    redis.hset(keys.room(event_id), mapping={"live": 1, "pre": 2})  # two fans drawn from the pre-queue
    join_script = scripts(redis).get("room_join")
    limits = [(Policy("join", 30), "fan"), (Policy("ip", 7), "10.0.0.1")]
    token = tokens.issue(settings.secret_bytes, event_id, "fan")
    call_keys, args = store.JoinCall(keys, event_id)(token, 2, 1, 2**42, limits, 1_000_000)
    assert join_script(keys=call_keys, args=args) == [1, 3, 2, 1, 1, 0, 29, 2000, 6, 8572]
    assert redis.hget(store.bucket_key(keys, event_id, token), token.field) == "3"
    assert redis.lrange(keys.room_journal(event_id), 0, -1) == [f"{token.field}:3"]
    join_key, ip_key = call_keys[4:]
    # The theoretical arrival times in ms with three decimals (60,000 / 7 = 8,571.428...), each
    # expiring when its policy is whole again.
    assert (redis.get(join_key), redis.get(ip_key)) == ("1002000.000", "1008571.429")
    assert 1900 < redis.pttl(join_key) <= 2000 and 8400 < redis.pttl(ip_key) <= 8572
    assert redis.hget(keys.room(event_id), "seq") == "1"
    # The bucket and the journal the join made expire at its expire-at (the room: its opener's).
    assert expiries(redis, call_keys[1], keys.room_journal(event_id)) == [2**42] * 2


def test_every_key_a_join_makes_expires_and_the_tick_moves_the_rooms_keys_and_buckets_with_the_event(settings, keys, redis, db):
    event_id = str(make_event(on_sale_in_s=-1).id)
    room, journal, prequeue = keys.room(event_id), keys.room_journal(event_id), keys.room_prequeue_buckets(event_id)
    redis.hset(room, "live", 1)  # opened, as the first join through the web does, with its expiry
    redis.pexpireat(room, 2**41)
    call = store.JoinCall(keys, event_id)
    join_script = scripts(redis).get("room_join")

    def join(user: str, now_ms: int, expire_at: int) -> str:
        token = tokens.issue(settings.secret_bytes, event_id, user)
        join_script(*call(token, now_ms, 1_000, expire_at))
        return store.bucket_key(keys, event_id, token)

    # Before on-sale: the pre-queue set, the journal and each bucket expire at the join's instant.
    early = [join(f"early-{i}", 500, 2**42) for i in range(3)]
    assert expiries(redis, room, journal, prequeue, *early) == [2**41] + [2**42] * 5
    # The journal copied and trimmed away: the next join's new journal expires too.
    redis.delete(journal)
    assert expiries(redis, journal, join("first", 2_000, 2**42)) == [2**42] * 2
    # The event's times move: the tick moves the room's keys, each join its bucket.
    later = 2**42 + 60_000
    waves.keep_expiry(redis, keys, event_id, later, 3_000)
    assert expiries(redis, room, journal, prequeue, join("moved", 3_000, later)) == [later] * 4
    # Past the room's mark (set by that first tick), every bucket is pushed past the room's.
    postponed = later + 30 * 86_400_000
    waves.keep_expiry(redis, keys, event_id, postponed, 4_000)
    assert expiries(redis, *early) == [postponed + waves.BUCKET_EXPIRY_AHEAD_MS] * 3


async def test_buckets_stay_listpack_encoded_so_a_waiting_fan_costs_tens_of_bytes(settings, keys, redis, aredis, db):
    event = make_event(on_sale_in_s=-1)
    services = RoomService(redis=aredis, keys=keys, settings=settings,
                           run_blocking=lambda fn, *a: asyncio.to_thread(fn, *a))
    snapshot = Event.get_by_id(event.id)
    await asyncio.gather(*(services.join(snapshot, f"fan-{i}") for i in range(2000)))
    pipe = redis.pipeline(transaction=False)
    for b in range(tokens.BUCKETS):
        pipe.exists(keys.room_bucket(str(event.id), b))
    used = [b for b, exists in enumerate(pipe.execute()) if exists]
    encodings = {redis.object("encoding", keys.room_bucket(str(event.id), b)) for b in used[:200]}
    assert encodings == {"listpack"}


# -- the lean pipelined connection ----------------------------------------------------------

async def test_concurrent_batches_on_one_wire_each_get_their_own_replies_in_order(settings, aredis):
    from models.waiting_room.wire import PipelinedConnection

    key = settings.redis_prefix + "wire:h"
    await aredis.hset(key, mapping={f"f{i}": i for i in range(500)})
    wire = PipelinedConnection.for_client(aredis)
    assert wire is not None
    try:
        batches = [[("HGET", key, f"f{(b * 7 + i) % 500}") for i in range(b % 13 + 1)] for b in range(200)]
        replies = await asyncio.gather(*(wire.execute(batch) for batch in batches))
    finally:
        await wire.aclose()
    assert replies == [[str((b * 7 + i) % 500) for i in range(b % 13 + 1)] for b in range(200)]


async def test_an_error_reply_fails_only_its_command_and_a_forgotten_script_is_reloaded(settings, aredis):
    from redis.exceptions import ResponseError

    from models.waiting_room.batching import CommandBatcher

    key = settings.redis_prefix + "wire:s"
    await aredis.set(key, "x")
    batcher = CommandBatcher(aredis)
    script = scripts(aredis).get("room_close")
    try:
        assert await batcher.hget(key + "nope", "a") is None  # connects: what follows takes the fast path
        await aredis.script_flush()
        results = await asyncio.gather(batcher.hget(key, "a"), batcher.hget(key + "nope", "a"),
                                       batcher.run_script(script, [settings.redis_prefix + "wire:room"], [1]),
                                       return_exceptions=True)
    finally:
        await batcher.aclose()
    assert isinstance(results[0], ResponseError) and "WRONGTYPE" in str(results[0])
    assert results[1:] == [None, [0, 0]]


async def test_a_wire_reconnects_after_the_server_drops_it(settings, aredis):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from models.waiting_room.wire import PipelinedConnection

    wire = PipelinedConnection.for_client(aredis)
    try:
        [client_id] = await wire.execute([("CLIENT", "ID")])
        await aredis.client_kill_filter(_id=client_id)
        outcomes = []
        for _ in range(3):
            try:
                outcomes.append(await wire.execute([("PING",)]))
                break
            except RedisConnectionError:
                outcomes.append("dropped")
    finally:
        await wire.aclose()
    assert outcomes[-1] == ["PONG"]
    assert outcomes.count("dropped") <= 1


async def test_a_wire_selects_the_clients_database_and_reports_an_unreachable_server(settings):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from models.waiting_room.wire import PipelinedConnection

    other_db = connect_async(settings.redis_url.rsplit("/", 1)[0] + "/1")
    key = settings.redis_prefix + "wire:db"
    wire = PipelinedConnection.for_client(other_db)
    try:
        await other_db.set(key, "in-db-1")
        assert await wire.execute([("GET", key)]) == ["in-db-1"]
    finally:
        await other_db.delete(key)
        await wire.aclose()
        await other_db.aclose()
    with pytest.raises(RedisConnectionError):
        await PipelinedConnection(host="127.0.0.1", port=9, connect_timeout_s=1.0).execute([("PING",)])


async def test_a_room_lost_with_redis_mid_sale_comes_back_with_every_place_while_joins_keep_arriving(
        settings, keys, redis, aredis, db):
    """Concurrent joins from several clients while the scheduler ticks; Redis loses the room;
    joins and polls are refused until the tick restores it; every copied place comes back."""
    event = make_event(on_sale_in_s=3600, wave_size=40, wave_interval_s=30.0)  # one wave, then none due
    event_id = str(event.id)
    rt = Runtime(settings, redis, keys)
    clients, services = await _services(settings, keys)
    try:
        snapshot = Event.get_by_id(event.id)
        early = [f"early-{i}" for i in range(FANS)]
        await asyncio.gather(*(services[i % CLIENTS].join(snapshot, u) for i, u in enumerate(early)))
        Event.update(on_sale_at=datetime.now(UTC) - timedelta(seconds=1)).where(Event.id == event.id).execute()
        snapshot = Event.get_by_id(event.id)
        late = [f"late-{i}" for i in range(FANS)]
        ticking = asyncio.create_task(asyncio.to_thread(lambda: [admit_waves(rt) for _ in range(5)]))
        await asyncio.gather(*(services[i % CLIENTS].join(snapshot, u) for i, u in enumerate(late)))
        await ticking
        admit_waves(rt)  # copy the last joins
        before = _positions(redis, keys, settings, event_id, early + late)
        up_to = store.read_counters(redis, keys, event_id).up_to
        assert up_to > 0 and sorted(before) == list(range(1, 2 * FANS + 1))

        for key in redis.scan_iter(match=f"{keys.prefix}*"):
            redis.delete(key)
        for service in services:
            service.rooms.forget(event_id)
        refused = await asyncio.gather(*(services[i % CLIENTS].join(snapshot, f"new-{i}") for i in range(20)),
                                       return_exceptions=True)
        assert {type(r).__name__ for r in refused} == {"RoomRestoring"}

        await asyncio.to_thread(admit_waves, rt)  # the restore (the next wave is not due yet)
        assert _positions(redis, keys, settings, event_id, early + late) == before
        assert store.read_counters(redis, keys, event_id).up_to == up_to
        for service in services:
            service.rooms.forget(event_id)
        newcomers = await asyncio.gather(*(services[i % CLIENTS].join(snapshot, f"new-{i}") for i in range(20)))
        assert sorted(r.position for r in newcomers) == list(range(2 * FANS + 1, 2 * FANS + 21))
        statuses = await asyncio.gather(*(services[i % CLIENTS].status(snapshot, tokens.issue(
            settings.secret_bytes, event_id, user).text) for i, user in enumerate(early + late)))
        assert [s["position"] for s in statuses] == before
    finally:
        for client in clients:
            await client.aclose()


async def test_a_redis_back_behind_mid_sale_gives_every_copied_place_back_while_joins_keep_arriving(
        settings, keys, redis, aredis, db):
    """Redis comes back with the state of an earlier instant (an AOF written every second, a
    lagging replica) while clients keep joining and the scheduler ticks: every place the
    database was told of comes back, the joins that took lost places keep them, and Redis and
    the database agree on every fan."""
    from tests.unit.models.test_waiting_room_restore import roll_back, snapshot

    event = make_event(on_sale_in_s=-1, wave_size=40, wave_interval_s=30.0)
    event_id = str(event.id)
    rt = Runtime(settings, redis, keys)
    clients, services = await _services(settings, keys)

    async def join_all(users: list[str]) -> None:
        for i, user in enumerate(users):
            while True:
                try:
                    await services[i % CLIENTS].join(snapshot_, user)
                    break
                except Exception as error:  # noqa: BLE001 - only the restore's refusal is expected
                    assert type(error).__name__ == "RoomRestoring"
                    await asyncio.sleep(0.01)

    try:
        snapshot_ = Event.get_by_id(event.id)
        kept, lost, again = ([f"{name}-{i}" for i in range(FANS // 2)] for name in ("kept", "lost", "again"))
        await join_all(kept)
        admit_waves(rt)
        saved = snapshot(redis, keys)
        await join_all(lost)
        admit_waves(rt)
        before = _positions(redis, keys, settings, event_id, kept + lost)
        assert before == list(range(1, FANS + 1))

        roll_back(redis, keys, saved)
        ticking = asyncio.create_task(asyncio.to_thread(lambda: [admit_waves(rt) for _ in range(5)]))
        await asyncio.gather(*(join_all(again[i::CLIENTS]) for i in range(CLIENTS)))
        await ticking
        admit_waves(rt)  # copy the last joins

        assert _positions(redis, keys, settings, event_id, kept + lost) == before
        given = _positions(redis, keys, settings, event_id, again)
        assert len(set(given)) == len(given) and min(given) > len(kept)  # in arrival order, behind the kept fans
        highest = store.read_counters(redis, keys, event_id).total
        assert set(before + given) == set(range(1, highest + 1))  # no gap: a place lost and given again is shared
        copied = dict(QueueEntry.select(QueueEntry.field, QueueEntry.position)
                      .where(QueueEntry.event == event.id).tuples())
        for user, position in zip(kept + lost + again, before + given, strict=True):
            assert copied[tokens.issue(settings.secret_bytes, event_id, user).field] == position
    finally:
        for client in clients:
            await client.aclose()
