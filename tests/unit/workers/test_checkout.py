"""Checkout actors on the StubBroker: redelivered messages never charge, sell or issue twice."""

from __future__ import annotations

import pytest

from models import checkout
from models.checkout import batch as checkout_batch
from models.tables import CheckoutSession, Event, Order, Reservation, Ticket
from tests.unit.models.checkout_factories import lapse, make_hold, make_tier, tier_counts
from workers.checkout import confirm_checkout, issue_tickets


@pytest.fixture
def tier(runtime):
    return make_tier(capacity=10)


def confirmed_session(runtime, tier, quantity=3, simulate="success", user="fan-1") -> str:
    hold = make_hold(tier, user, quantity, redis=runtime.redis, keys=runtime.keys)
    sid = checkout.open_session(user_id=user, reservation_id=hold.id, idempotency_key="k").document["id"]
    assert checkout.begin_confirm(user_id=user, session_id=sid, simulate=simulate).enqueue
    return sid


def drain(broker, worker):
    broker.join("checkout")
    worker.join()


def test_a_confirm_message_delivered_twice_makes_one_order_and_exactly_n_tickets(actors, runtime, tier, stub_broker, stub_worker):
    sid = confirmed_session(runtime, tier, quantity=3)
    message = actors.confirm_checkout.message(sid)
    stub_broker.enqueue(message)
    stub_broker.enqueue(message)  # the broker redelivers the very same message
    drain(stub_broker, stub_worker)
    assert Order.select().count() == 1
    order = Order.get()
    assert sorted(t.seq for t in Ticket.select().where(Ticket.order == order.id)) == [1, 2, 3]
    assert tier_counts(tier) == (3, 0)


def test_an_issuance_message_delivered_twice_issues_each_ticket_once(actors, runtime, tier, stub_broker, stub_worker):
    sid = confirmed_session(runtime, tier, quantity=2)
    order_id = checkout.settle(runtime, sid).order_id
    message = actors.issue_tickets.message(order_id)
    for _ in range(3):
        stub_broker.enqueue(message)
    drain(stub_broker, stub_worker)
    assert Ticket.select().where(Ticket.order == order_id).count() == 2


def test_running_both_actors_twice_by_hand_gives_one_order_and_n_tickets(runtime, tier, stub_broker):
    sid = confirmed_session(runtime, tier, quantity=4)
    confirm_checkout(sid)
    confirm_checkout(sid)
    order = Order.get()
    assert Ticket.select().where(Ticket.order == order.id).count() == 4  # written with the order
    issue_tickets(str(order.id))
    issue_tickets(str(order.id))
    assert Order.select().count() == 1
    assert Ticket.select().where(Ticket.order == order.id).count() == 4
    # Settling sends no second command: the tickets are in the settling transaction.
    assert len(stub_broker.queues["checkout"].queue) == 0


def test_a_failed_payment_message_puts_the_stock_back(actors, runtime, tier, stub_broker, stub_worker):
    sid = confirmed_session(runtime, tier, quantity=2, simulate="fail")
    stub_broker.enqueue(actors.confirm_checkout.message(sid))
    drain(stub_broker, stub_worker)
    assert CheckoutSession.get_by_id(sid).status == "failed"
    assert tier_counts(tier) == (0, 0) and Order.select().count() == 0


def test_expire_checkout_releases_a_lapsed_hold(actors, runtime, tier, stub_broker, stub_worker):
    hold = make_hold(tier, "fan-1", 2, redis=runtime.redis, keys=runtime.keys)
    sid = checkout.open_session(user_id="fan-1", reservation_id=hold.id, idempotency_key="k").document["id"]
    lapse(hold)
    assert checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate="success").refusal == "hold_expired"
    stub_broker.enqueue(actors.expire_checkout.message(sid))
    drain(stub_broker, stub_worker)
    assert Reservation.get_by_id(hold.id).status == "expired" and tier_counts(tier) == (0, 0)


def tickets_of(sid: str) -> list[int]:
    order = Order.get(Order.session == sid)
    return sorted(t.seq for t in Ticket.select().where(Ticket.order == order.id))


def test_one_settle_message_settles_paid_failed_and_already_settled_sessions_in_one_batch(actors, runtime, tier, stub_broker,
                                                                                           stub_worker):
    settled_before = confirmed_session(runtime, tier, quantity=1, user="fan-0")
    checkout.settle(runtime, settled_before)
    paid = confirmed_session(runtime, tier, quantity=3, user="fan-1")
    failed = confirmed_session(runtime, tier, quantity=2, user="fan-2", simulate="fail")
    batches = []
    real = checkout_batch.settle_batch

    def spy(*args, **kwargs):
        done = real(*args, **kwargs)
        batches.append(sorted(s.session_id for s in done))
        return done

    checkout_batch.settle_batch = spy
    try:
        stub_broker.enqueue(actors.settle_checkouts.message(str(tier.event_id)))
        drain(stub_broker, stub_worker)
    finally:
        checkout_batch.settle_batch = real
    assert batches[0] == sorted([paid, failed])  # one transaction for both; the settled one untouched
    assert CheckoutSession.get_by_id(paid).status == "paid" and tickets_of(paid) == [1, 2, 3]
    assert CheckoutSession.get_by_id(failed).status == "failed"
    assert Reservation.get(Reservation.user_id == "fan-2").status == "released"
    assert Order.select().count() == 2 and tickets_of(settled_before) == [1]
    assert tier_counts(tier) == (4, 0)


def test_the_same_settle_batch_delivered_twice_charges_sells_and_issues_once(actors, runtime, tier, stub_broker, stub_worker):
    sids = [confirmed_session(runtime, tier, quantity=2, user=f"fan-{n}") for n in range(3)]
    message = actors.settle_checkouts.message(str(tier.event_id))
    stub_broker.enqueue(message)
    stub_broker.enqueue(message)  # the very same message, redelivered
    drain(stub_broker, stub_worker)
    assert Order.select().count() == 3
    assert all(tickets_of(sid) == [1, 2] for sid in sids)
    assert Ticket.select().count() == 6 and tier_counts(tier) == (6, 0)


def test_a_batch_meeting_an_expired_hold_and_a_canceled_event_charges_neither_and_returns_their_stock(actors,
        runtime, tier, stub_broker, stub_worker):
    lapsing = confirmed_session(runtime, tier, quantity=2, user="fan-1")
    lapse(Reservation.get(Reservation.user_id == "fan-1"))
    paying = confirmed_session(runtime, tier, quantity=1, user="fan-2")
    other_tier = make_tier(capacity=5)
    canceled = confirmed_session(runtime, other_tier, quantity=2, user="fan-3")
    Event.update(status="canceled").where(Event.id == other_tier.event_id).execute()
    for event_id in (tier.event_id, other_tier.event_id):
        stub_broker.enqueue(actors.settle_checkouts.message(str(event_id)))
    drain(stub_broker, stub_worker)
    expired = CheckoutSession.get_by_id(lapsing)
    assert (expired.status, expired.failure_reason) == ("expired", "hold_expired")
    assert Reservation.get(Reservation.user_id == "fan-1").status == "expired"
    refused = CheckoutSession.get_by_id(canceled)
    assert (refused.status, refused.failure_reason) == ("failed", "event_not_on_sale")
    assert Reservation.get(Reservation.user_id == "fan-3").status == "released"
    assert CheckoutSession.get_by_id(paying).status == "paid"
    assert [str(o.checkout_session_id) for o in Order.select()] == [paying]
    assert tier_counts(tier) == (1, 0) and tier_counts(other_tier) == (0, 0)
