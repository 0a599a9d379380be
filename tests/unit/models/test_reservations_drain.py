"""The drainer decides an event's queued requests in order, once, and never oversells."""

from __future__ import annotations

from datetime import timedelta

from models.keys import reservation_id
from models.metrics import OVERSELL_ATTEMPTS, RESERVATIONS
from models.reservations import drain as drain_module
from models.reservations.drain import decide
from models.reservations.lease import EventLease
from models.reservations.persist import persist_batch
from models.reservations.records import truncate_ms
from models.tables import Reservation, utcnow
from tests.unit.models.test_reservations_support import (
    Resends,
    db_counts,
    drain_now,
    make_event,
    make_paid_order,
    make_tier,
    record,
    rejected_request,
    request,
    stock,
)


def statuses(ids):
    rows = {str(r.id): (r.status, r.reason) for r in Reservation.select().where(Reservation.id.in_(ids))}
    return [rows.get(i) for i in ids]


def test_a_batch_with_mixed_outcomes_holds_rejects_for_stock_and_for_the_limit(runtime):
    event = make_event()
    tier = make_tier(event, capacity=10, per_user_limit=4)
    make_paid_order(tier, "veteran", 5)  # 5 of the 6-ticket cap bought, 5 tickets left
    ids = [request(runtime, tier, "ann", 3), request(runtime, tier, "veteran", 2), request(runtime, tier, "bob", 2),
           request(runtime, tier, "cy", 3)]

    report = drain_now(runtime, event.id)

    assert statuses(ids) == [("held", None), ("rejected", "limit_exceeded"), ("held", None), ("rejected", "sold_out")]
    assert report.outcomes == {"held": 2, "rejected": 2}
    assert db_counts(tier) == (5, 5)
    assert stock(runtime, tier) == (0, 5)
    assert [record(runtime, i)["status"] for i in ids] == ["held", "rejected", "held", "rejected"]
    live = runtime.redis.hgetall(runtime.keys.live_reservations(str(event.id)))
    assert live == {"ann": ids[0], "bob": ids[2]}
    users = runtime.redis.hgetall(runtime.keys.user_counts(str(event.id)))
    assert users == {"ann": "3", "bob": "2", "veteran": "5"}


def test_requests_are_decided_in_arrival_order(runtime):
    event = make_event()
    tier = make_tier(event, capacity=3)
    ids = [request(runtime, tier, f"fan-{i}") for i in range(6)]
    drain_now(runtime, event.id)
    assert [s for s, _ in statuses(ids)] == ["held"] * 3 + ["rejected"] * 3


def test_a_granted_hold_expires_hold_ttl_after_its_decision_in_redis_and_the_database(runtime):
    event = make_event()
    tier = make_tier(event)
    rid = request(runtime, tier, "ann", 2)
    before = truncate_ms(utcnow())
    drain_now(runtime, event.id)
    after = utcnow()
    row = Reservation.get_by_id(rid)
    ttl = timedelta(seconds=runtime.settings.hold_ttl_s)
    assert before + ttl <= row.expires_at <= after + ttl
    assert record(runtime, rid)["expires_at"] == row.expires_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert Reservation.get_by_id(rid).quantity == 2


def test_a_rejected_request_has_no_expiry_and_frees_the_users_slot(runtime):
    event, _, rid = rejected_request(runtime)
    assert Reservation.get_by_id(rid).expires_at is None
    assert runtime.redis.hget(runtime.keys.live_reservations(str(event.id)), "bob") is None


def test_a_batch_decided_but_not_written_before_a_crash_is_decided_the_same_way_once(runtime):
    event = make_event()
    tier = make_tier(event, capacity=2)
    ids = [request(runtime, tier, f"fan-{i}") for i in range(3)]
    decide(runtime, str(event.id), ids, truncate_ms(utcnow()))  # the worker dies right after the script

    drain_now(runtime, event.id)

    assert [s for s, _ in statuses(ids)] == ["held", "held", "rejected"]
    assert db_counts(tier) == (0, 2)
    assert stock(runtime, tier) == (0, 2)
    assert runtime.redis.llen(runtime.keys.mailbox(str(event.id))) == 0


def test_a_batch_written_but_not_committed_to_redis_before_a_crash_grants_nothing_twice(runtime):
    event = make_event()
    tier = make_tier(event, capacity=2)
    ids = [request(runtime, tier, f"fan-{i}") for i in range(3)]
    now = truncate_ms(utcnow())
    persist_batch(str(event.id), decide(runtime, str(event.id), ids, now), now)  # dies before res_commit

    report = drain_now(runtime, event.id)

    assert Reservation.select().where(Reservation.event == event.id).count() == 3
    assert db_counts(tier) == (0, 2)
    assert stock(runtime, tier) == (0, 2)
    assert report.outcomes == {"held": 2, "rejected": 1}
    assert [record(runtime, i)["status"] for i in ids] == ["held", "held", "rejected"]


def _counted() -> tuple[float, float, float]:
    """(held, rejected, oversell attempts) as the metrics count them."""
    return (RESERVATIONS.labels("held")._value.get(), RESERVATIONS.labels("rejected")._value.get(),
            OVERSELL_ATTEMPTS._value.get())


def test_a_batch_decided_by_a_drainer_that_lost_its_lease_and_by_its_successor_is_counted_once(runtime, monkeypatch):
    # The old holder's lease lapsed, or Redis was flushed mid-drain: it goes on with the batch it
    # had read while a successor decides, writes and commits the same batch; the decide script
    # gives both the same decisions, and the database writes each row once.
    event = make_event()
    tier = make_tier(event, capacity=2)
    ids = [request(runtime, tier, f"fan-{i}") for i in range(3)]
    before = _counted()
    write = drain_module.persist_batch

    def successor_first(*args):
        monkeypatch.setattr(drain_module, "persist_batch", write)
        assert drain_now(runtime, event.id).outcomes == {"held": 2, "rejected": 1}
        return write(*args)

    monkeypatch.setattr(drain_module, "persist_batch", successor_first)
    assert not drain_module.step(runtime, str(event.id), ids, "the-token-of-a-lease-that-is-gone")

    assert [s for s, _ in statuses(ids)] == ["held", "held", "rejected"]
    assert db_counts(tier) == (0, 2)
    assert tuple(a - b for a, b in zip(_counted(), before, strict=True)) == (2, 1, 1)


def test_a_hold_the_database_refuses_is_one_oversell_attempt(runtime):
    event = make_event()
    tier = make_tier(event, capacity=1)
    runtime.redis.hset(runtime.keys.stock(str(event.id)), str(tier.id), 50)  # Redis is wrong
    ids = [request(runtime, tier, "ann"), request(runtime, tier, "bob")]
    before = _counted()
    drain_now(runtime, event.id)
    assert statuses(ids) == [("held", None), ("rejected", "sold_out")]
    assert tuple(a - b for a, b in zip(_counted(), before, strict=True)) == (1, 1, 1)


def test_a_redelivered_message_after_a_complete_run_is_a_no_op(runtime):
    event = make_event()
    tier = make_tier(event, capacity=2)
    ids = [request(runtime, tier, f"fan-{i}") for i in range(2)]
    drain_now(runtime, event.id)
    report = drain_now(runtime, event.id)
    assert report.batches == 0 and report.ended == "done"
    assert db_counts(tier) == (0, 2)
    assert [s for s, _ in statuses(ids)] == ["held", "held"]


def test_the_database_refuses_a_hold_redis_wrongly_allowed_and_redis_is_corrected(runtime):
    event = make_event()
    tier = make_tier(event, capacity=3)
    ids = [request(runtime, tier, "ann", 2)]
    drain_now(runtime, event.id)
    runtime.redis.hset(runtime.keys.stock(str(event.id)), str(tier.id), 50)  # Redis is wrong
    ids += [request(runtime, tier, "bob", 2), request(runtime, tier, "cy", 1)]

    drain_now(runtime, event.id)

    assert statuses(ids) == [("held", None), ("rejected", "sold_out"), ("held", None)]
    assert db_counts(tier) == (0, 3)
    assert stock(runtime, tier) == (0, 3)
    assert runtime.redis.hget(runtime.keys.user_counts(str(event.id)), "bob") is None


def test_missing_counters_are_rebuilt_from_the_database_before_deciding(runtime):
    event = make_event()
    tier = make_tier(event, capacity=4)
    make_paid_order(tier, "early", 3)
    runtime.redis.delete(runtime.keys.stock(str(event.id)))
    ids = [request(runtime, tier, "ann", 2), request(runtime, tier, "bob", 1)]
    drain_now(runtime, event.id)
    assert statuses(ids) == [("rejected", "sold_out"), ("held", None)]
    assert stock(runtime, tier) == (0, 1)


def test_counters_flushed_between_decision_and_commit_still_never_oversell(runtime):
    event = make_event()
    tier = make_tier(event, capacity=2)
    ids = [request(runtime, tier, f"fan-{i}") for i in range(2)]
    drain_now(runtime, event.id)
    runtime.redis.delete(runtime.keys.stock(str(event.id)), runtime.keys.user_counts(str(event.id)),
                         runtime.keys.live_reservations(str(event.id)))
    late = [request(runtime, tier, f"late-{i}") for i in range(3)]
    drain_now(runtime, event.id)
    assert [s for s, _ in statuses(ids + late)] == ["held", "held", "rejected", "rejected", "rejected"]
    assert db_counts(tier) == (0, 2)


def test_a_tier_added_after_the_counters_were_built_triggers_a_rebuild(runtime):
    event = make_event()
    first = make_tier(event, capacity=1)
    request(runtime, first, "ann")
    drain_now(runtime, event.id)
    second = make_tier(event, name="Balcony", capacity=5)
    rid = request(runtime, second, "bob", 3)
    drain_now(runtime, event.id)
    assert statuses([rid]) == [("held", None)]
    assert stock(runtime, second) == (2, 3)


def test_a_user_who_already_holds_a_reservation_cannot_get_a_second_one_through_a_stale_slot(runtime):
    event = make_event()
    tier = make_tier(event)
    first = request(runtime, tier, "ann")
    drain_now(runtime, event.id)
    runtime.redis.hdel(runtime.keys.live_reservations(str(event.id)), "ann")  # slot lost (a bug, a flush)
    second = request(runtime, tier, "ann")
    runtime.redis.hset(runtime.keys.live_reservations(str(event.id)), "ann", first)
    drain_now(runtime, event.id)
    assert statuses([first, second]) == [("held", None), ("rejected", "already_reserved")]


def test_a_mailbox_longer_than_a_batch_is_drained_in_several_batches(runtime):
    runtime.settings = runtime.settings.with_(reserve_batch_size=4)
    event = make_event()
    tier = make_tier(event, capacity=7)
    ids = [request(runtime, tier, f"fan-{i}") for i in range(10)]
    report = drain_now(runtime, event.id)
    assert report.batches == 3 and report.ended == "done"
    assert [s for s, _ in statuses(ids)] == ["held"] * 7 + ["rejected"] * 3


def test_a_run_past_its_time_box_sends_the_next_message_before_letting_go(runtime):
    runtime.settings = runtime.settings.with_(reserve_batch_size=2)
    event = make_event()
    tier = make_tier(event, capacity=10)
    for i in range(5):
        request(runtime, tier, f"fan-{i}")
    resends = Resends()
    report = drain_now(runtime, event.id, resend=resends, time_box_s=0)
    assert report.ended == "handed_over" and report.batches == 1
    assert resends == [None]
    assert runtime.redis.exists(runtime.keys.event_lease(str(event.id))) == 0
    assert runtime.redis.exists(runtime.keys.drain_flag(str(event.id))) == 1
    assert runtime.redis.llen(runtime.keys.mailbox(str(event.id))) == 3


def test_a_run_that_finds_the_lease_taken_retries_after_the_lease_would_lapse(runtime, monkeypatch):
    monkeypatch.setattr(drain_module, "ACQUIRE_WAIT_S", 0)
    event = make_event()
    tier = make_tier(event)
    request(runtime, tier, "ann")
    assert EventLease(runtime.redis, runtime.keys, str(event.id)).acquire()
    resends = Resends()
    report = drain_now(runtime, event.id, resend=resends)
    assert report.ended == "busy"
    assert len(resends) == 1 and 1000 < resends[0] <= 5050
    assert runtime.redis.llen(runtime.keys.mailbox(str(event.id))) == 1


def test_an_empty_mailbox_ends_the_run_and_clears_the_flag_so_the_next_request_sends_a_message(runtime):
    event = make_event()
    tier = make_tier(event)
    request(runtime, tier, "ann")
    drain_now(runtime, event.id)
    assert runtime.redis.exists(runtime.keys.drain_flag(str(event.id)), runtime.keys.event_lease(str(event.id))) == 0
    from models.reservations.queue import Request, enqueue

    kind, send = enqueue(runtime.redis, runtime.keys, 6, Request(reservation_id(str(event.id)), str(event.id), str(tier.id), "bob", 1))
    assert (kind, send) == ("accepted", 1)
    kind, send = enqueue(runtime.redis, runtime.keys, 6, Request(reservation_id(str(event.id)), str(event.id), str(tier.id), "cy", 1))
    assert (kind, send) == ("accepted", 0)


def test_requests_queued_before_the_event_closed_are_rejected_not_held(runtime):
    from models.tables import Event

    event = make_event()
    tier = make_tier(event)
    rid = request(runtime, tier, "ann", 2)
    Event.update(status="canceled").where(Event.id == event.id).execute()
    drain_now(runtime, event.id)
    assert statuses([rid]) == [("rejected", "event_not_on_sale")]
    assert db_counts(tier) == (0, 0)
    assert stock(runtime, tier) == (10, 0)
