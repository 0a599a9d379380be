"""Ending holds: release and expiry move the database first, then Redis, once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import inventory
from models.reservations.drain import decide
from models.reservations.persist import persist_batch
from models.reservations.records import truncate_ms
from models.tables import Reservation, TicketTier, utcnow
from tests.unit.models.test_reservations_support import (
    db_counts,
    drain_now,
    make_event,
    make_tier,
    record,
    rejected_request,
    request,
    stock,
)


@pytest.fixture
def held(runtime):
    """An event with a 10-ticket tier and ann holding 3 of them."""
    event = make_event()
    tier = make_tier(event, capacity=10)
    rid = request(runtime, tier, "ann", 3)
    drain_now(runtime, event.id)
    return event, tier, rid


def users(runtime, event):
    return runtime.redis.hgetall(runtime.keys.user_counts(str(event.id)))


def live(runtime, event):
    return runtime.redis.hgetall(runtime.keys.live_reservations(str(event.id)))


def test_releasing_a_hold_returns_its_tickets_everywhere_and_frees_the_users_slot(runtime, held):
    event, tier, rid = held
    assert inventory.release_hold(runtime.redis, runtime.keys, rid, to_status="released", reason="payment_failed")
    row = Reservation.get_by_id(rid)
    assert (row.status, row.reason) == ("released", "payment_failed")
    assert db_counts(tier) == (0, 0)
    assert stock(runtime, tier) == (10, 0)
    assert users(runtime, event) == {} and live(runtime, event) == {}
    assert record(runtime, rid)["status"] == "released"


def test_releasing_twice_releases_once(runtime, held):
    _, tier, rid = held
    assert inventory.release_hold(runtime.redis, runtime.keys, rid, to_status="expired", reason="hold_expired")
    assert not inventory.release_hold(runtime.redis, runtime.keys, rid, to_status="released")
    assert db_counts(tier) == (0, 0)
    assert stock(runtime, tier) == (10, 0)


def test_a_hold_can_only_be_released_to_released_or_expired(runtime, held):
    with pytest.raises(ValueError):
        inventory.release_hold(runtime.redis, runtime.keys, held[2], to_status="converted")


def test_a_rejected_reservation_is_not_released(runtime):
    _, tier, rid = rejected_request(runtime)
    assert not inventory.release_hold(runtime.redis, runtime.keys, rid, to_status="released")
    assert db_counts(tier) == (0, 1)


def test_the_expiry_sweep_expires_only_holds_past_their_expiry(runtime):
    event = make_event()
    tier = make_tier(event, capacity=10)
    due, fresh = request(runtime, tier, "ann", 2), request(runtime, tier, "bob", 1)
    drain_now(runtime, event.id)
    Reservation.update(expires_at=utcnow() - timedelta(seconds=1)).where(Reservation.id == due).execute()
    assert inventory.expire_due_holds(runtime) == 1
    assert inventory.expire_due_holds(runtime) == 0
    assert [Reservation.get_by_id(i).status for i in (due, fresh)] == ["expired", "held"]
    assert Reservation.get_by_id(due).reason == "hold_expired"
    assert db_counts(tier) == (0, 1)
    assert stock(runtime, tier) == (9, 1)


def test_the_expiry_sweep_ends_many_holds_of_several_tiers_in_chunks_and_returns_every_ticket(runtime, monkeypatch):
    from models.reservations import holds

    monkeypatch.setattr(holds, "EXPIRE_CHUNK", 3)
    event = make_event()
    floor, balcony = make_tier(event, capacity=20), make_tier(event, capacity=20)
    ids = [request(runtime, tier, f"fan-{i}", 2) for i, tier in enumerate([floor, balcony] * 4)]
    drain_now(runtime, event.id)
    Reservation.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert inventory.expire_due_holds(runtime) == 8
    assert {Reservation.get_by_id(i).status for i in ids} == {"expired"}
    assert db_counts(floor) == db_counts(balcony) == (0, 0)
    assert stock(runtime, floor) == stock(runtime, balcony) == (20, 0)
    assert users(runtime, event) == {} and live(runtime, event) == {}


def test_an_expiry_chunk_that_raced_a_payment_falls_back_to_one_hold_at_a_time(runtime, monkeypatch):
    from models.reservations import holds

    event = make_event()
    tier = make_tier(event, capacity=10)
    ids = [request(runtime, tier, user, 1) for user in ("ann", "bob")]
    drain_now(runtime, event.id)
    Reservation.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    Reservation.update(status="converted").where(Reservation.id == ids[0]).execute()  # paid just in time
    TicketTier.update(held=TicketTier.held - 1, sold=TicketTier.sold + 1).where(TicketTier.id == tier.id).execute()
    monkeypatch.setattr(holds, "_expire_in_db", lambda chunk: None)  # as if the chunk's update lost a race
    assert inventory.expire_due_holds(runtime) == 1
    assert [Reservation.get_by_id(i).status for i in ids] == ["converted", "expired"]
    assert db_counts(tier) == (1, 0)


def test_a_hold_released_before_its_drainer_committed_to_redis_is_reconciled_by_that_commit(runtime):
    event = make_event()
    tier = make_tier(event, capacity=5)
    rid = request(runtime, tier, "ann", 2)
    now = truncate_ms(utcnow())
    persist_batch(str(event.id), decide(runtime, str(event.id), [rid], now), now)  # drainer dies here
    assert inventory.release_hold(runtime.redis, runtime.keys, rid, to_status="expired")
    drain_now(runtime, event.id)  # the redelivered run commits what the database says
    assert record(runtime, rid)["status"] == "expired"
    assert db_counts(tier) == (0, 0)
    assert stock(runtime, tier) == (5, 0)
    assert users(runtime, event) == {} and live(runtime, event) == {}
