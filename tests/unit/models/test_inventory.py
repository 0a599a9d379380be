"""The Redis counters: rebuilt from the database, reconciled, read for availability."""

from __future__ import annotations

import time

from models import inventory
from models.reservations.drain import decide
from models.reservations.lease import EventLease
from models.reservations.records import truncate_ms
from models.tables import utcnow
from tests.unit.models.test_reservations_support import drain_now, make_event, make_paid_order, make_tier, request


def test_rebuilding_counts_stock_holds_paid_orders_and_keeps_queued_requests_live(runtime):
    event = make_event()
    floor, balcony = make_tier(event, capacity=10), make_tier(event, name="Balcony", capacity=4)
    held = request(runtime, floor, "ann", 3)
    drain_now(runtime, event.id)
    make_paid_order(balcony, "ann", 2)
    queued = request(runtime, floor, "bob", 1)
    e = str(event.id)
    runtime.redis.delete(runtime.keys.stock(e), runtime.keys.user_counts(e), runtime.keys.live_reservations(e))

    inventory.rebuild_counters(runtime.redis, runtime.keys, e)

    assert runtime.redis.hgetall(runtime.keys.stock(e)) == {
        str(floor.id): "7", f"held:{floor.id}": "3", str(balcony.id): "2", f"held:{balcony.id}": "0"}
    assert runtime.redis.hgetall(runtime.keys.user_counts(e)) == {"ann": "5"}
    assert runtime.redis.hgetall(runtime.keys.live_reservations(e)) == {"ann": held, "bob": queued}


def test_a_decision_lost_with_the_counters_is_made_again_against_the_rebuilt_ones(runtime):
    event = make_event()
    tier = make_tier(event, capacity=1)
    first = request(runtime, tier, "ann")
    decide(runtime, str(event.id), [first], truncate_ms(utcnow()))  # decided, never written
    assert runtime.redis.hget(runtime.keys.reservation(first), "decided") == "held"
    inventory.rebuild_counters(runtime.redis, runtime.keys, str(event.id))
    assert runtime.redis.hget(runtime.keys.reservation(first), "decided") is None
    drain_now(runtime, event.id)
    assert runtime.redis.hgetall(runtime.keys.stock(str(event.id)))[str(tier.id)] == "0"


def test_reconciling_fixes_drifted_counters_and_skips_events_being_drained(runtime):
    quiet, busy = make_event(), make_event(name="Drake")
    quiet_tier, busy_tier = make_tier(quiet, capacity=10), make_tier(busy, capacity=10)
    make_event(name="Draft", status="draft")
    for event, tier in ((quiet, quiet_tier), (busy, busy_tier)):
        request(runtime, tier, "ann", 2)
        drain_now(runtime, event.id)
        runtime.redis.hset(runtime.keys.stock(str(event.id)), str(tier.id), 99)
    assert EventLease(runtime.redis, runtime.keys, str(busy.id)).acquire()

    report = inventory.reconcile_all(runtime)

    assert report == {"drift": 1, "undecided": 0}
    assert runtime.redis.hget(runtime.keys.stock(str(quiet.id)), str(quiet_tier.id)) == "8"
    assert runtime.redis.hget(runtime.keys.stock(str(busy.id)), str(busy_tier.id)) == "99"


def test_a_stalled_mailbox_is_kicked_once_and_a_drained_or_fresh_one_is_left_alone(runtime, stub_broker):
    stalled, fresh = make_event(), make_event(name="B")
    make_tier(make_event(name="C"))  # nothing queued
    request(runtime, make_tier(stalled), "ann")
    request(runtime, make_tier(fresh), "bob")
    # The stalled event's message was sent long ago and nobody holds its lease.
    runtime.redis.set(runtime.keys.drain_flag(str(stalled.id)), int(time.time() * 1000) - 60_000)

    assert inventory.kick_stalled_mailboxes(runtime) == 1
    assert inventory.kick_stalled_mailboxes(runtime) == 0
    assert stub_broker.queues["reservations"].qsize() == 1


async def test_availability_reads_the_counters_and_falls_back_to_the_database_when_they_are_missing(runtime, aredis):
    from models.catalog.snapshot import load_snapshot

    event = make_event()
    tier = make_tier(event, capacity=10, price_cents=9_900)
    request(runtime, tier, "ann", 4)
    drain_now(runtime, event.id)
    snapshot = load_snapshot(str(event.id), 100, 5.0)

    async def run_blocking(fn, *args):
        return fn(*args)

    result = await inventory.availability(aredis, runtime.keys, snapshot, run_blocking)
    assert not result.from_database
    assert result.tiers == [{"tier_id": str(tier.id), "name": "Floor", "price_cents": 9_900, "capacity": 10,
                             "per_user_limit": 4, "remaining": 6}]
    await aredis.delete(runtime.keys.stock(str(event.id)))
    result = await inventory.availability(aredis, runtime.keys, snapshot, run_blocking)
    assert result.from_database and result.tiers[0]["remaining"] == 6


def test_a_rebuild_that_held_the_lease_while_requests_waited_sends_a_drain_message(runtime, stub_broker):
    event = make_event()
    tier = make_tier(event)
    inventory.rebuild_counters(runtime.redis, runtime.keys, str(event.id))
    assert stub_broker.queues["reservations"].qsize() == 0  # nothing waits: nothing sent
    request(runtime, tier, "ann")  # its drain message found the lease taken and went away
    inventory.rebuild_counters(runtime.redis, runtime.keys, str(event.id))
    assert stub_broker.queues["reservations"].qsize() == 1
