"""drain_event on a StubBroker with a real Worker: outcomes once, whatever the messages do."""

from __future__ import annotations

import orjson

from models.reservations import drain as drain_module
from models.tables import Reservation
from tests.unit.models.test_reservations_support import db_counts, make_event, make_tier, request, stock


def run_all(stub_broker, stub_worker):
    stub_broker.join("reservations", timeout=20_000)
    stub_worker.join()


def outcomes_of(pubsub):
    found = {}
    while (msg := pubsub.get_message(timeout=0.05)) is not None:
        if msg["type"] == "message":
            payload = orjson.loads(msg["data"])
            found.setdefault(payload["id"], []).append(payload["status"])
    return found


def test_a_drain_message_decides_the_queued_requests_and_publishes_each_outcome(actors, runtime, stub_broker, stub_worker):
    pubsub = runtime.redis.pubsub()
    pubsub.subscribe(runtime.keys.outcomes_channel())
    event = make_event()
    tier = make_tier(event, capacity=3)
    ids = [request(runtime, tier, f"fan-{i}", 1) for i in range(5)]

    actors.drain_event.send(str(event.id))
    run_all(stub_broker, stub_worker)

    assert outcomes_of(pubsub) == {i: [s] for i, s in zip(ids, ["held"] * 3 + ["rejected"] * 2, strict=True)}
    assert db_counts(tier) == (0, 3)


def test_duplicate_and_redelivered_messages_decide_each_request_once(actors, runtime, stub_broker, stub_worker):
    event = make_event()
    tier = make_tier(event, capacity=4)
    ids = [request(runtime, tier, f"fan-{i}", 2) for i in range(3)]
    for _ in range(3):
        actors.drain_event.send(str(event.id))
    run_all(stub_broker, stub_worker)
    actors.drain_event.send(str(event.id))  # redelivered after the work was done
    run_all(stub_broker, stub_worker)

    rows = {str(r.id): r.status for r in Reservation.select()}
    assert [rows[i] for i in ids] == ["held", "held", "rejected"]
    assert db_counts(tier) == (0, 4)
    assert stock(runtime, tier) == (0, 4)


def test_a_long_mailbox_is_handed_from_message_to_message_until_it_is_empty(actors, runtime, stub_broker, stub_worker, monkeypatch):
    monkeypatch.setattr(drain_module, "TIME_BOX_S", 0)
    runtime.settings = runtime.settings.with_(reserve_batch_size=3)
    event = make_event()
    tier = make_tier(event, capacity=8)
    ids = [request(runtime, tier, f"fan-{i}") for i in range(10)]
    actors.drain_event.send(str(event.id))
    run_all(stub_broker, stub_worker)
    assert Reservation.select().where(Reservation.status == "held").count() == 8
    assert {r.status for r in Reservation.select().where(Reservation.id.in_(ids[8:]))} == {"rejected"}
    assert runtime.redis.llen(runtime.keys.mailbox(str(event.id))) == 0
    assert runtime.redis.exists(runtime.keys.drain_flag(str(event.id)), runtime.keys.event_lease(str(event.id))) == 0
