"""Confirming and settling payments: one order per session whatever is redelivered, stock back
at once on failure, nothing charged once the hold lapsed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import checkout
from models.checkout import batch as settle_module
from models.checkout import recovery
from models.checkout.confirm import refusal_error
from models.errors import Conflict, Gone
from models.tables import CheckoutSession, Order, Reservation, Ticket, utcnow
from tests.unit.models.checkout_factories import lapse, make_hold, make_tier, tier_counts


@pytest.fixture
def tier(runtime):
    return make_tier(capacity=10, price_cents=5_000)


@pytest.fixture
def hold(tier, runtime):
    return make_hold(tier, "fan-1", 2, redis=runtime.redis, keys=runtime.keys)


def open_session(hold) -> str:
    return checkout.open_session(user_id="fan-1", reservation_id=hold.id, idempotency_key="k").document["id"]


def confirmed(hold, simulate="success") -> str:
    sid = open_session(hold)
    start = checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate=simulate)
    assert start.enqueue and start.refusal is None
    return sid


def stock(runtime, tier) -> tuple[int, int]:
    raw = runtime.redis.hgetall(runtime.keys.stock(str(tier.event_id)))
    return int(raw[str(tier.id)]), int(raw[f"held:{tier.id}"])


def test_confirm_moves_the_session_to_processing_and_records_the_requested_outcome(hold):
    sid = open_session(hold)
    start = checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate="fail")
    assert start.enqueue is True and start.document["status"] == "processing"
    session = CheckoutSession.get_by_id(sid)
    assert session.status == "processing" and session.simulate == "fail"


def test_a_duplicate_confirm_while_processing_only_asks_for_a_settle_message(runtime, hold):
    sid = confirmed(hold)
    duplicate = checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate="success")
    assert duplicate.enqueue is True and duplicate.document["status"] == "processing"
    event_id = duplicate.event_id
    # The flag lets one message through per burst: the first caller sends, the duplicate does not.
    assert checkout.claim_settle(runtime.redis, runtime.keys, event_id)
    assert not checkout.claim_settle(runtime.redis, runtime.keys, event_id)


def test_a_settler_lets_go_of_the_flag_once_nothing_is_left_so_the_next_confirm_sends_again(runtime, hold):
    sid = confirmed(hold)
    event_id = str(hold.event_id)
    assert checkout.claim_settle(runtime.redis, runtime.keys, event_id)
    resent = []
    assert checkout.settle_event(runtime, event_id, lambda: resent.append(1)) == 1
    assert CheckoutSession.get_by_id(sid).status == "paid" and resent == []
    assert checkout.claim_settle(runtime.redis, runtime.keys, event_id)


def test_another_outcome_while_processing_is_a_conflict(hold):
    sid = confirmed(hold)
    with pytest.raises(Conflict) as info:
        checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate="fail")
    assert info.value.extra["reason"] == "payment_in_progress"


def test_a_successful_payment_converts_the_hold_and_creates_one_paid_order(runtime, tier, hold):
    sid = confirmed(hold)
    pubsub = runtime.redis.pubsub()
    pubsub.subscribe(runtime.keys.outcomes_channel())
    settlement = checkout.settle(runtime, sid)
    assert settlement.status == "paid" and settlement.order_id
    order = Order.get_by_id(settlement.order_id)
    assert (order.user_id, order.quantity, order.amount_cents, order.status) == ("fan-1", 2, 10_000, "paid")
    assert (str(order.event_id), str(order.tier_id)) == (str(tier.event_id), str(tier.id))
    assert Reservation.get_by_id(hold.id).status == "converted"
    assert tier_counts(tier) == (2, 0)
    assert stock(runtime, tier) == (8, 0)
    messages = [m for m in iter(lambda: pubsub.get_message(timeout=0.2), None) if m["type"] == "message"]
    assert any('"status":"paid"' in m["data"] and sid in m["data"] for m in messages)


def test_settling_the_same_session_again_changes_nothing(runtime, tier, hold):
    sid = confirmed(hold)
    first = checkout.settle(runtime, sid)
    second = checkout.settle(runtime, sid)
    assert second == first
    assert Order.select().count() == 1 and tier_counts(tier) == (2, 0)


def test_a_crash_before_the_commit_is_redelivered_and_decided_the_same_way(runtime, tier, hold, monkeypatch):
    sid = confirmed(hold)
    real = settle_module._insert_orders_and_tickets

    def crash(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("worker killed after writing the orders, before the commit")

    monkeypatch.setattr(settle_module, "_insert_orders_and_tickets", crash)
    with pytest.raises(RuntimeError):
        checkout.settle(runtime, sid)
    monkeypatch.undo()
    assert CheckoutSession.get_by_id(sid).status == "processing"
    assert Reservation.get_by_id(hold.id).status == "held" and tier_counts(tier) == (0, 2)
    assert Order.select().count() == 0 and Ticket.select().count() == 0
    assert checkout.settle(runtime, sid).status == "paid"
    assert Order.select().count() == 1 and Ticket.select().count() == 2 and tier_counts(tier) == (2, 0)


def test_a_failed_payment_releases_the_hold_and_puts_the_stock_back_at_once(runtime, tier, hold):
    sid = confirmed(hold, simulate="fail")
    settlement = checkout.settle(runtime, sid)
    assert settlement.status == "failed" and settlement.order_id is None
    session = CheckoutSession.get_by_id(sid)
    assert session.failure_reason == "payment_declined"
    assert Reservation.get_by_id(hold.id).status == "released"
    assert tier_counts(tier) == (0, 0) and stock(runtime, tier) == (10, 0)
    assert Order.select().count() == 0
    assert checkout.settle(runtime, sid).status == "failed" and stock(runtime, tier) == (10, 0)


def test_a_hold_that_lapses_before_settling_is_not_charged_and_is_released(runtime, tier, hold):
    sid = confirmed(hold)
    lapse(hold)
    settlement = checkout.settle(runtime, sid)
    assert settlement.status == "expired" and settlement.order_id is None
    assert Order.select().count() == 0
    assert Reservation.get_by_id(hold.id).status == "expired"
    assert tier_counts(tier) == (0, 0) and stock(runtime, tier) == (10, 0)


def test_confirming_a_lapsed_hold_is_gone_and_the_release_returns_the_stock(runtime, tier, hold):
    sid = open_session(hold)
    lapse(hold)
    start = checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate="success")
    assert start.refusal == "hold_expired" and isinstance(refusal_error(start), Gone) and start.enqueue is False
    assert CheckoutSession.get_by_id(sid).status == "expired"
    assert checkout.expire_session(runtime, sid) is True
    assert tier_counts(tier) == (0, 0) and stock(runtime, tier) == (10, 0)
    assert checkout.expire_session(runtime, sid) is False
    with pytest.raises(Gone):
        checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate="success")


def test_confirming_after_the_fan_released_the_reservation_is_a_conflict(runtime, hold):
    from models.inventory import release_hold

    sid = open_session(hold)
    release_hold(runtime.redis, runtime.keys, str(hold.id), to_status="released")
    with pytest.raises(Conflict) as info:
        checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate="success")
    assert info.value.extra["reason"] == "reservation_released"
    assert CheckoutSession.get_by_id(sid).status == "expired"


def test_a_paid_session_confirms_again_to_the_same_result_and_a_failed_one_is_a_conflict(runtime, tier, hold):
    sid = confirmed(hold)
    order_id = checkout.settle(runtime, sid).order_id
    again = checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate="success")
    assert again.enqueue is False and again.document["order_id"] == order_id
    other = make_hold(tier, "fan-1", 1, redis=runtime.redis, keys=runtime.keys)
    failed = checkout.open_session(user_id="fan-1", reservation_id=other.id, idempotency_key="k2").document["id"]
    checkout.begin_confirm(user_id="fan-1", session_id=failed, simulate="fail")
    checkout.settle(runtime, failed)
    with pytest.raises(Conflict) as info:
        checkout.begin_confirm(user_id="fan-1", session_id=failed, simulate="success")
    assert info.value.extra["reason"] == "payment_failed"


def test_a_confirm_sent_again_after_its_payment_failed_answers_with_the_failed_session_as_the_first_did(runtime, hold):
    sid = confirmed(hold, simulate="fail")
    checkout.settle(runtime, sid)
    with pytest.raises(Conflict) as info:  # the fan's retry after its first answer was lost
        checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate="fail")
    assert info.value.extra["reason"] == "payment_failed"
    assert info.value.extra["checkout"]["id"] == sid and info.value.extra["checkout"]["status"] == "failed"


def test_settling_an_unknown_session_does_nothing(runtime):
    assert checkout.settle(runtime, "00000000-0000-0000-0000-000000000000").status == "missing"


def test_the_sweep_expires_lapsed_open_sessions_and_settles_sessions_whose_message_was_lost(runtime, tier, hold):
    stuck = confirmed(hold)
    long_ago = utcnow() - timedelta(seconds=recovery.STALE_PROCESSING_S + 1)
    CheckoutSession.update(updated_at=long_ago).where(CheckoutSession.id == stuck).execute()
    lapsing = make_hold(tier, "fan-2", 1, redis=runtime.redis, keys=runtime.keys)
    lapsed_sid = checkout.open_session(user_id="fan-2", reservation_id=lapsing.id, idempotency_key="k").document["id"]
    lapse(lapsing)
    fresh = make_hold(tier, "fan-3", 1, redis=runtime.redis, keys=runtime.keys)
    fresh_sid = checkout.open_session(user_id="fan-3", reservation_id=fresh.id, idempotency_key="k").document["id"]
    checkout.begin_confirm(user_id="fan-3", session_id=fresh_sid, simulate="success")

    assert checkout.expire_stale_sessions(runtime) == 2
    assert CheckoutSession.get_by_id(stuck).status == "paid"
    assert Ticket.select().count() == 2
    assert CheckoutSession.get_by_id(lapsed_sid).status == "expired"
    assert Reservation.get_by_id(lapsing.id).status == "expired"
    assert CheckoutSession.get_by_id(fresh_sid).status == "processing"
    assert checkout.expire_stale_sessions(runtime) == 0
