"""The reservation engine and the waiting room on a real Redis Cluster, with Dramatiq on
RabbitMQ (the broker a cluster deployment runs): 2,000 concurrent requests on 500 tickets,
concurrent joins and waves, a room restored after the shard holding it lost its data while
another shard's event sold on, and ten events spread over the shards."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pika
import pytest
from dramatiq.common import dq_name, xq_name

from models.keys import reservation_id
from models.reservations.queue import Request
from models.tables import Event, Reservation
from models.waiting_room import admit_waves, store
from tests.integration.conftest import CONNECT_TIMEOUT_S, RABBITMQ_URL, require
from tests.integration.test_reservations_concurrency import (  # noqa: F401  (fixtures and tests run here again)
    assert_no_oversell,
    fire,
    settle,
    test_2000_concurrent_requests_on_500_tickets_hold_exactly_500_and_decide_each_once,
    worker_threads,
)
from tests.integration.test_waiting_room_redis import (  # noqa: F401
    CLIENTS,
    _positions,
    _services,
    make_event,
    test_hundreds_of_concurrent_joins_from_several_clients_get_distinct_gapless_positions,
    test_two_schedulers_ticking_at_once_admit_each_position_exactly_once,
)
from tests.unit.models.test_reservations_support import make_event as make_sale
from tests.unit.models.test_reservations_support import make_tier
from workers.broker import build_broker
from workers.entry import wire
from workers.runtime import Runtime

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _rabbitmq_ping() -> None:
    params = pika.URLParameters(RABBITMQ_URL)
    params.socket_timeout = params.blocked_connection_timeout = CONNECT_TIMEOUT_S
    pika.BlockingConnection(params).close()


@pytest.fixture
def real_broker(settings, runtime, stub_broker):
    """A RabbitmqBroker carrying every actor on queues of this test's own prefix (removed after),
    the domain's commands bound to it."""
    require("RabbitMQ", _rabbitmq_ping)
    broker = build_broker(settings.with_(broker_url=RABBITMQ_URL))
    wire(settings.with_(queue_prefix=f"td_test_{uuid.uuid4().hex[:10]}."), broker)
    yield broker
    wire(settings, stub_broker)
    for queue in broker.get_declared_queues():
        for name in (queue, dq_name(queue), xq_name(queue)):
            broker.channel.queue_delete(name)
    broker.close()


def _master(redis, key: str) -> str:
    return redis.get_node_from_key(key).name


def _events_on_two_masters(redis, keys, make, count: int = 2) -> list[Event]:
    """``count`` events made by ``make()`` whose keys live on distinct masters."""
    events, masters = [], set()
    while len(events) < count:
        event = make()
        master = _master(redis, keys.room(str(event.id)))
        if master in masters:
            event.delete_instance()
            continue
        masters.add(master)
        events.append(event)
    return events


async def test_a_room_comes_back_after_its_shard_lost_its_data_while_another_shard_s_room_carries_on(
        settings, keys, redis, aredis, db):
    lost, kept = _events_on_two_masters(redis, keys, lambda: make_event(on_sale_in_s=-1, wave_size=40,
                                                                         wave_interval_s=30.0))
    rt = Runtime(settings, redis, keys)
    clients, services = await _services(settings, keys)
    fans = [f"fan-{i}" for i in range(200)]
    try:
        for event in (lost, kept):
            snapshot = Event.get_by_id(event.id)
            await asyncio.gather(*(services[i % CLIENTS].join(snapshot, u) for i, u in enumerate(fans)))
        admit_waves(rt)  # copies the joins to queue_entries and admits the first wave of each room
        before = {e.id: _positions(redis, keys, settings, str(e.id), fans) for e in (lost, kept)}
        up_to = {e.id: store.read_counters(redis, keys, str(e.id)).up_to for e in (lost, kept)}
        assert all(sorted(p) == list(range(1, 201)) for p in before.values()) and min(up_to.values()) > 0

        redis.flushall(target_nodes=redis.get_node_from_key(keys.room(str(lost.id))))  # one shard loses everything
        for service in services:
            service.rooms.forget(str(lost.id))
            service.rooms.forget(str(kept.id))
        lost_snapshot, kept_snapshot = Event.get_by_id(lost.id), Event.get_by_id(kept.id)
        refused = await asyncio.gather(*(services[i % CLIENTS].join(lost_snapshot, f"new-{i}") for i in range(10)),
                                       return_exceptions=True)
        carried_on = await asyncio.gather(*(services[i % CLIENTS].join(kept_snapshot, f"new-{i}") for i in range(10)))
        assert {type(r).__name__ for r in refused} == {"RoomRestoring"}
        assert sorted(r.position for r in carried_on) == list(range(201, 211))

        await asyncio.to_thread(admit_waves, rt)  # the restore (the next wave is not due yet)
        for event in (lost, kept):
            assert _positions(redis, keys, settings, str(event.id), fans) == before[event.id]
            assert store.read_counters(redis, keys, str(event.id)).up_to == up_to[event.id]
        for service in services:
            service.rooms.forget(str(lost.id))
        newcomers = await asyncio.gather(*(services[i % CLIENTS].join(lost_snapshot, f"new-{i}") for i in range(10)))
        assert sorted(r.position for r in newcomers) == list(range(201, 211))
    finally:
        for client in clients:
            await client.aclose()


async def test_ten_events_over_the_shards_each_sell_exactly_their_capacity(runtime, redis, keys, aredis,
                                                                        worker_threads):  # noqa: F811
    events = [make_sale() for _ in range(10)]
    masters = {_master(redis, keys.stock(str(e.id))) for e in events}
    assert len(masters) >= 2, "ten random events should spread over at least two of three masters"
    tiers = {str(e.id): make_tier(e, capacity=30, per_user_limit=2) for e in events}
    requests = [Request(reservation_id(e), e, str(tier.id), f"fan-{i}", 1)
                for e, tier in tiers.items() for i in range(60)]
    results = await fire(aredis, runtime, requests)
    accepted = {req.id for req, kind, _ in results if kind == "accepted"}
    assert len(accepted) == 600
    for e in tiers:
        await asyncio.to_thread(settle, runtime, e, {req.id for req in requests if req.event_id == e})
    held = Counter(str(r.event_id) for r in Reservation.select().where(Reservation.status == "held"))
    assert held == {e: 30 for e in tiers}
    for e, tier in tiers.items():
        assert_no_oversell(runtime, e, tier)
        assert redis.llen(keys.mailbox(e)) == 0
