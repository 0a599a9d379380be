"""Returned tickets go to the waitlist in order, as holds decided by the event's drainer, never twice."""

from __future__ import annotations

import pytest

from models.inventory import expire_due_holds, release_hold
from models.metrics import WAITLIST_OFFERS
from models.tables import Reservation, TicketTier, WaitlistEntry
from models.waitlist import offers as offers_module
from models.waitlist.nudge import offers_marker
from tests.unit.models.checkout_factories import lapse
from tests.unit.models.test_reservations_support import db_counts, drain_now, record, request, stock
from tests.unit.models.waitlist_factories import entry_of, offers, sold_out_tier, wait


def counter(outcome: str) -> float:
    return WAITLIST_OFFERS.labels(outcome)._value.get()


def test_a_returned_ticket_goes_to_the_first_fan_it_fits_and_a_fan_it_does_not_fit_keeps_the_place(runtime, stub_broker):
    tier, holds = sold_out_tier(runtime, capacity=3)
    pair = wait(runtime, tier, "pair", 2, position=5)
    single = wait(runtime, tier, "single", 1, position=9)
    walk_in = wait(runtime, tier, "walk-in", 1)

    release_hold(runtime.redis, runtime.keys, holds[0], to_status="released", reason="released_by_user")
    assert runtime.redis.lrange(runtime.keys.mailbox(str(tier.event_id)), 0, -1) == [offers_marker(str(tier.event_id))]
    drain_now(runtime, tier.event_id)

    assert offers(tier) == [("single", 1)]
    assert [entry_of(e).status for e in (pair, single, walk_in)] == ["waiting", "offered", "waiting"]
    offer = Reservation.get_by_id(entry_of(single).reservation_id)
    assert (offer.user_id, offer.quantity, offer.status) == ("single", 1, "held")
    assert db_counts(tier) == (0, 3)
    assert stock(runtime, tier) == (0, 3)
    assert record(runtime, str(offer.id))["status"] == "held"
    assert runtime.redis.hget(runtime.keys.live_reservations(str(tier.event_id)), "single") == str(offer.id)
    t = str(tier.id)
    assert runtime.redis.hgetall(runtime.keys.waitlist(str(tier.event_id))) == {t: "2", f"{t}:2": "1", f"{t}:1": "1"}


def test_two_returned_tickets_reach_the_fan_who_waited_first_in_waiting_room_order(runtime, stub_broker):
    tier, holds = sold_out_tier(runtime, capacity=3)
    walk_in = wait(runtime, tier, "walk-in", 2)  # joined first, but never queued
    queued = wait(runtime, tier, "queued", 2, position=40)
    for rid in holds[:2]:
        release_hold(runtime.redis, runtime.keys, rid, to_status="expired", reason="hold_expired")
    drain_now(runtime, tier.event_id)
    assert offers(tier) == [("queued", 2)]
    assert entry_of(walk_in).status == "waiting"
    assert entry_of(queued).status == "offered"


def test_a_tier_with_fans_waiting_is_sold_out_to_new_requests_so_returns_reach_the_waitlist_first(runtime, stub_broker):
    tier, holds = sold_out_tier(runtime, capacity=2)
    waiting = wait(runtime, tier, "waiting-fan", 1, position=3)
    release_hold(runtime.redis, runtime.keys, holds[0], to_status="released", reason="payment_failed")
    late = request(runtime, tier, "late-fan")  # queued behind the marker, with a ticket free in Redis
    drain_now(runtime, tier.event_id)
    assert entry_of(waiting).status == "offered"
    assert (Reservation.get_by_id(late).status, Reservation.get_by_id(late).reason) == ("rejected", "sold_out")
    assert db_counts(tier) == (0, 2)


def test_a_returned_ticket_that_fits_no_waiting_fan_goes_back_to_general_sale_at_once(runtime, stub_broker):
    tier, holds = sold_out_tier(runtime, capacity=3)
    pair = wait(runtime, tier, "pair", 2, position=4)
    release_hold(runtime.redis, runtime.keys, holds[0], to_status="expired", reason="hold_expired")
    single = request(runtime, tier, "single")  # queued behind the offers marker
    drain_now(runtime, tier.event_id)
    assert offers(tier) == []
    assert entry_of(pair).status == "waiting"
    assert Reservation.get_by_id(single).status == "held"  # not kept back for fans it does not fit
    assert db_counts(tier) == (0, 3)


def test_once_what_is_free_fits_a_waiting_fan_the_tier_is_theirs_again(runtime, stub_broker):
    tier, holds = sold_out_tier(runtime, capacity=3)
    pair = wait(runtime, tier, "pair", 2, position=4)
    for rid in holds[:2]:
        release_hold(runtime.redis, runtime.keys, rid, to_status="released", reason="released_by_user")
    single = request(runtime, tier, "single")
    drain_now(runtime, tier.event_id)
    assert offers(tier) == [("pair", 2)]
    assert entry_of(pair).status == "offered"
    assert (Reservation.get_by_id(single).status, Reservation.get_by_id(single).reason) == ("rejected", "sold_out")


def test_a_tier_whose_waiting_fans_sizes_are_unknown_stays_closed_to_new_requests(runtime, stub_broker):
    tier, holds = sold_out_tier(runtime, capacity=3)
    wait(runtime, tier, "pair", 2, position=4)
    release_hold(runtime.redis, runtime.keys, holds[0], to_status="released", reason="released_by_user")
    # Counts written before sizes were kept: a tier's total only, until the next rebuild.
    runtime.redis.delete(runtime.keys.waitlist(str(tier.event_id)))
    runtime.redis.hset(runtime.keys.waitlist(str(tier.event_id)), str(tier.id), 1)
    single = request(runtime, tier, "single")
    drain_now(runtime, tier.event_id)
    assert (Reservation.get_by_id(single).status, Reservation.get_by_id(single).reason) == ("rejected", "sold_out")


def test_an_offer_batch_redelivered_after_a_crash_offers_nothing_twice(runtime, stub_broker, monkeypatch):
    tier, holds = sold_out_tier(runtime, capacity=2)
    wait(runtime, tier, "first", 1, position=1)
    second = wait(runtime, tier, "second", 1, position=2)
    release_hold(runtime.redis, runtime.keys, holds[0], to_status="released", reason="released_by_user")

    def crash(*args, **kwargs):
        raise ConnectionError("worker killed after the offer committed")

    monkeypatch.setattr(offers_module, "apply_offers", crash)
    with pytest.raises(ConnectionError):
        drain_now(runtime, tier.event_id)
    monkeypatch.undo()
    # The marker is still in the mailbox: the redelivered message runs the offer step again.
    assert offers_marker(str(tier.event_id)) in runtime.redis.lrange(runtime.keys.mailbox(str(tier.event_id)), 0, -1)
    runtime.redis.delete(runtime.keys.event_lease(str(tier.event_id)))
    drain_now(runtime, tier.event_id)
    drain_now(runtime, tier.event_id)

    assert offers(tier) == [("first", 1)]
    assert entry_of(second).status == "waiting"
    assert Reservation.select().where(Reservation.tier == tier.id, Reservation.status == "held").count() == 2
    assert db_counts(tier) == (0, 2)


def test_the_offer_step_run_twice_on_the_same_return_offers_it_once(runtime, stub_broker):
    tier, holds = sold_out_tier(runtime, capacity=2)
    for i in range(3):
        wait(runtime, tier, f"fan-{i}", 1, position=i + 1)
    release_hold(runtime.redis, runtime.keys, holds[0], to_status="released", reason="released_by_user")
    made = [len(offers_module.offer_returns(runtime, str(tier.event_id)).offers) for _ in range(2)]
    assert made == [1, 0]
    assert offers(tier) == [("fan-0", 1)]
    assert TicketTier.get_by_id(tier.id).held == 2


def test_an_offer_that_lapses_passes_to_the_next_fan(runtime, stub_broker):
    tier, holds = sold_out_tier(runtime, capacity=2)
    first = wait(runtime, tier, "first", 1, position=1)
    second = wait(runtime, tier, "second", 1, position=2)
    release_hold(runtime.redis, runtime.keys, holds[0], to_status="released", reason="released_by_user")
    drain_now(runtime, tier.event_id)
    lapsed_before, made_before = counter("lapsed"), counter("made")

    lapse(Reservation.get_by_id(entry_of(first).reservation_id))
    assert expire_due_holds(runtime) == 1  # the sweep: the lapsed offer's ticket comes back ...
    drain_now(runtime, tier.event_id)  # ... and the drainer offers it to the next fan

    assert entry_of(first).status == "lapsed"
    assert entry_of(second).status == "offered"
    assert offers(tier) == [("first", 1), ("second", 1)]
    assert db_counts(tier) == (0, 2)
    assert (counter("lapsed") - lapsed_before, counter("made") - made_before) == (1, 1)


def test_a_fan_at_the_purchase_cap_or_with_a_live_hold_is_skipped_and_keeps_the_place(runtime, stub_broker):
    tier, holds = sold_out_tier(runtime, capacity=3)
    holder = wait(runtime, tier, "holder-2", 1, position=1)  # still holds a ticket of this event
    other = wait(runtime, tier, "other", 1, position=2)
    release_hold(runtime.redis, runtime.keys, holds[0], to_status="released", reason="released_by_user")
    drain_now(runtime, tier.event_id)
    assert entry_of(holder).status == "waiting"
    assert entry_of(other).status == "offered"


def test_no_offers_are_made_for_a_canceled_event(runtime, stub_broker):
    tier, holds = sold_out_tier(runtime, capacity=1)
    fan = wait(runtime, tier, "fan", 1, position=1)
    from models.tables import Event

    Event.update(status="canceled").where(Event.id == tier.event_id).execute()
    release_hold(runtime.redis, runtime.keys, holds[0], to_status="released", reason="released_by_user")
    drain_now(runtime, tier.event_id)
    assert entry_of(fan).status == "waiting"
    assert WaitlistEntry.select().where(WaitlistEntry.reservation_id.is_null(False)).count() == 0


def test_a_failed_payment_in_the_checkout_batch_offers_its_tickets_to_the_waitlist(runtime, stub_broker):
    import uuid

    from models.checkout.batch import settle_batch
    from models.tables import CheckoutSession

    tier, holds = sold_out_tier(runtime, capacity=1)
    fan = wait(runtime, tier, "fan", 1, position=4)
    CheckoutSession.create(reservation=holds[0], user_id="holder-0", idempotency_key=uuid.uuid4().hex,
                           amount_cents=tier.price_cents, status="processing", simulate="fail")
    settled = settle_batch(runtime, secret=runtime.settings.secret_bytes, event_id=str(tier.event_id))
    assert [s.status for s in settled] == ["failed"]
    drain_now(runtime, tier.event_id)
    assert entry_of(fan).status == "offered"
    assert db_counts(tier) == (0, 1)
