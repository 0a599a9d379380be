"""Checkout actors on the StubBroker: redelivered messages never charge, sell or issue twice."""

from __future__ import annotations

import pytest

from models import checkout
from models.tables import CheckoutSession, Order, Reservation, Ticket
from tests.unit.models.checkout_factories import lapse, make_hold, make_tier, tier_counts
from workers.checkout import confirm_checkout, expire_checkout, issue_tickets


@pytest.fixture(autouse=True)
def no_retries():
    # A failing actor must fail the test now, not after Dramatiq's retry backoff.
    saved = {a: a.options.get("max_retries") for a in (confirm_checkout, issue_tickets, expire_checkout)}
    for a in saved:
        a.options["max_retries"] = 0
    yield
    for a, value in saved.items():
        a.options["max_retries"] = value


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


def test_a_confirm_message_delivered_twice_makes_one_order_and_exactly_n_tickets(runtime, tier, stub_broker, stub_worker):
    sid = confirmed_session(runtime, tier, quantity=3)
    message = confirm_checkout.message(sid)
    stub_broker.enqueue(message)
    stub_broker.enqueue(message)  # the broker redelivers the very same message
    drain(stub_broker, stub_worker)
    assert Order.select().count() == 1
    order = Order.get()
    assert sorted(t.seq for t in Ticket.select().where(Ticket.order == order.id)) == [1, 2, 3]
    assert tier_counts(tier) == (3, 0)


def test_an_issuance_message_delivered_twice_issues_each_ticket_once(runtime, tier, stub_broker, stub_worker):
    sid = confirmed_session(runtime, tier, quantity=2)
    order_id = checkout.settle(runtime, sid).order_id
    message = issue_tickets.message(order_id)
    for _ in range(3):
        stub_broker.enqueue(message)
    drain(stub_broker, stub_worker)
    assert Ticket.select().where(Ticket.order == order_id).count() == 2


def test_running_both_actors_twice_by_hand_gives_one_order_and_n_tickets(runtime, tier, stub_broker):
    sid = confirmed_session(runtime, tier, quantity=4)
    confirm_checkout(sid)
    confirm_checkout(sid)
    order = Order.get()
    issue_tickets(str(order.id))
    issue_tickets(str(order.id))
    assert Order.select().count() == 1
    assert Ticket.select().where(Ticket.order == order.id).count() == 4
    # Each confirm run sent the issuance command after its commit; both are harmless.
    assert len([m for m in stub_broker.queues["checkout"].queue]) == 2


def test_a_failed_payment_message_puts_the_stock_back(runtime, tier, stub_broker, stub_worker):
    sid = confirmed_session(runtime, tier, quantity=2, simulate="fail")
    stub_broker.enqueue(confirm_checkout.message(sid))
    drain(stub_broker, stub_worker)
    assert CheckoutSession.get_by_id(sid).status == "failed"
    assert tier_counts(tier) == (0, 0) and Order.select().count() == 0


def test_expire_checkout_releases_a_lapsed_hold(runtime, tier, stub_broker, stub_worker):
    hold = make_hold(tier, "fan-1", 2, redis=runtime.redis, keys=runtime.keys)
    sid = checkout.open_session(user_id="fan-1", reservation_id=hold.id, idempotency_key="k").document["id"]
    lapse(hold)
    assert checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate="success").lapsed is not None
    stub_broker.enqueue(expire_checkout.message(sid))
    drain(stub_broker, stub_worker)
    assert Reservation.get_by_id(hold.id).status == "expired" and tier_counts(tier) == (0, 0)
