"""Cancelling orders: refunded once, tickets void, stock back (to the waitlist first), in
resumable batches for a canceled event."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import ticket_transfer
from models.checkout import refunds
from models.errors import Conflict, NotFound
from models.inventory import rebuild_counters
from models.sweeps import JOBS, run_sweep
from models.tables import Event, Order, Ticket, TicketTier, utcnow
from models.tickets import issue_for_order
from tests.unit.models.checkout_factories import make_event, make_order, make_tier
from tests.unit.models.test_reservations_support import drain_now, stock
from tests.unit.models.waitlist_factories import entry_of, wait


def paid(tier, user="fan-1", quantity=2, secret=b"s" * 32):
    order = make_order(tier, user, quantity)
    TicketTier.update(sold=TicketTier.sold + quantity).where(TicketTier.id == tier.id).execute()
    issue_for_order(secret, order.id)
    return order


def test_an_admin_cancel_refunds_the_order_voids_its_tickets_and_returns_the_stock_once(runtime, stub_broker):
    tier = make_tier(capacity=4)
    order = paid(tier, quantity=2)
    doc = refunds.cancel_order(runtime, order.id)
    again = refunds.cancel_order(runtime, order.id)
    assert doc["status"] == "refunded" and doc["refund"]["amount_cents"] == order.amount_cents
    assert doc["refund"]["reason"] == "admin" and doc["refunded_at"]
    assert again == doc
    assert {t.status for t in Ticket.select().where(Ticket.order == order.id)} == {"void"}
    assert TicketTier.get_by_id(tier.id).sold == 0


def test_an_order_with_a_checked_in_ticket_is_not_refunded(runtime, stub_broker):
    tier = make_tier(capacity=4)
    order = paid(tier, quantity=2)
    Ticket.update(status="checked_in", checked_in_at=utcnow()).where(Ticket.order == order.id, Ticket.seq == 1).execute()
    with pytest.raises(Conflict) as caught:
        refunds.cancel_order(runtime, order.id)
    assert caught.value.extra["reason"] == "ticket_checked_in"
    assert caught.value.errors[0]["field"] == "id"
    assert Order.get_by_id(order.id).status == "paid"
    assert sorted(t.status for t in Ticket.select().where(Ticket.order == order.id)) == ["checked_in", "valid"]
    assert TicketTier.get_by_id(tier.id).sold == 2


def test_a_fan_cancels_only_their_own_order_within_the_window(runtime, stub_broker):
    event = make_event()
    tier = make_tier(event, capacity=4)
    order = paid(tier, "fan-1")
    with pytest.raises(NotFound):
        refunds.cancel_order(runtime, order.id, user_id="someone-else")
    with pytest.raises(Conflict) as off:
        refunds.cancel_order(runtime, order.id, user_id="fan-1")  # SELF_CANCEL_WINDOW_S defaults to 0
    assert off.value.extra["reason"] == "self_cancel_not_allowed"
    Event.update(self_cancel_window_s=600).where(Event.id == event.id).execute()
    with pytest.raises(Conflict) as late:
        refunds.cancel_order(runtime, order.id, user_id="fan-1", now=utcnow() + timedelta(seconds=601))
    assert late.value.extra["reason"] == "self_cancel_window_passed"
    assert refunds.cancel_order(runtime, order.id, user_id="fan-1")["refund"]["reason"] == "fan"


def test_a_fan_cannot_refund_an_order_after_giving_one_of_its_tickets_away(runtime, stub_broker):
    event = make_event(self_cancel_window_s=600)
    order = paid(make_tier(event, capacity=4), "fan-1", 2)
    given = Ticket.get(Ticket.order == order.id, Ticket.seq == 1)
    ticket_transfer.commit_transfer(b"s" * 32, ticket_transfer.plan_transfer("fan-1", given.code, "fan-2"), limit=6)
    with pytest.raises(Conflict) as caught:
        refunds.cancel_order(runtime, order.id, user_id="fan-1")
    assert caught.value.extra["reason"] == "ticket_transferred" and caught.value.errors[0]["field"] == "id"
    assert Order.get_by_id(order.id).status == "paid"
    assert {(t.user_id, t.status) for t in Ticket.select().where(Ticket.order == order.id)} == {
        ("fan-1", "valid"), ("fan-2", "valid")}
    # The organiser still may (a dispute): the receiver's ticket is void and no longer counts for them.
    assert ticket_transfer.received_tickets(event.id, "fan-2") == 1
    assert refunds.cancel_order(runtime, order.id)["refund"]["reason"] == "admin"
    assert ticket_transfer.received_tickets(event.id, "fan-2") == 0
    rebuild_counters(runtime.redis, runtime.keys, str(event.id))
    assert runtime.redis.hget(runtime.keys.user_counts(str(event.id)), "fan-2") is None


def test_refunded_tickets_are_offered_to_the_waitlist_first(runtime, stub_broker):
    tier = make_tier(make_event(), capacity=2)
    order = paid(tier, "buyer", 2)
    fan = wait(runtime, tier, "waiting-fan", 2, position=1)
    refunds.cancel_order(runtime, order.id)
    drain_now(runtime, tier.event_id)
    assert entry_of(fan).status == "offered"
    assert (TicketTier.get_by_id(tier.id).sold, TicketTier.get_by_id(tier.id).held) == (0, 2)
    assert stock(runtime, tier) == (0, 2)


def test_a_refund_batch_killed_halfway_is_finished_by_the_sweep(runtime, stub_broker, monkeypatch):
    event = make_event()
    tier = make_tier(event, capacity=20, per_user_limit=2)
    orders = [paid(tier, f"fan-{i}", 1) for i in range(7)]
    Event.update(status="canceled").where(Event.id == event.id).execute()
    real = refunds.refund_in_db
    calls = []

    def killed_after_the_first_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise SystemExit("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(refunds, "refund_in_db", killed_after_the_first_batch)
    with pytest.raises(SystemExit):
        while refunds.refund_event_orders(runtime, str(event.id), limit=3):
            pass
    monkeypatch.undo()
    assert Order.select().where(Order.event == event.id, Order.status == "refunded").count() == 3

    name, target, batch = next(job for job in JOBS if job[0] == "refund_canceled_orders")
    report = run_sweep(runtime, name, target, batch)

    assert report["items"] == 4
    assert {o.status for o in Order.select().where(Order.id.in_([o.id for o in orders]))} == {"refunded"}
    assert {o.cancel_reason for o in Order.select()} == {"event_canceled"}
    assert Ticket.select().where(Ticket.event == event.id, Ticket.status != "void").count() == 0
    assert TicketTier.get_by_id(tier.id).sold == 0
