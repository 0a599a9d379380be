import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bench.drop.invariants import check_database, check_fans, paid_by_user
from models.tables import AdmissionWave, CheckoutSession, Event, Order, Reservation, Ticket, TicketTier, WaitlistEntry, utcnow


@dataclass
class FakeFan:
    user_id: str
    outcome: str
    quantity: int = 0
    tickets: int = 0
    detail: str = ""


def _buy(event, tier, user, quantity, at):
    res = Reservation.create(id=uuid.uuid4(), event=event, tier=tier, user_id=user, quantity=quantity,
                             status="converted", created_at=at)
    session = CheckoutSession.create(reservation=res, user_id=user, idempotency_key=uuid.uuid4().hex,
                                     amount_cents=quantity * tier.price_cents, status="paid", simulate="success")
    order = Order.create(session=session, user_id=user, event=event, tier=tier, quantity=quantity,
                         amount_cents=session.amount_cents)
    for seq in range(1, quantity + 1):
        Ticket.create(order=order, seq=seq, code=uuid.uuid4().hex, qr_sig="sig", user_id=user, event=event, tier=tier)
    return res, order


@pytest.fixture
def drop(db):
    """A finished, correct drop: 2 tiers sold out, a failed payment, an expired hold, a rejection."""
    now = utcnow()
    event = Event.create(name="Drop", venue="Arena", starts_at=now + timedelta(days=30), on_sale_at=now, status="on_sale")
    ga = TicketTier.create(event=event, name="GA", price_cents=5000, capacity=4, sold=4)
    vip = TicketTier.create(event=event, name="VIP", price_cents=15000, capacity=2, sold=2)
    AdmissionWave.create(event=event, first_position=1, last_position=3, admitted_at=now)
    AdmissionWave.create(event=event, first_position=4, last_position=6, admitted_at=now + timedelta(seconds=1))
    later = now + timedelta(seconds=2)
    _buy(event, ga, "fan-1", 3, later)
    _buy(event, ga, "fan-2", 1, later)
    _buy(event, vip, "fan-3", 2, later)
    failed = Reservation.create(id=uuid.uuid4(), event=event, tier=ga, user_id="fan-4", quantity=1, status="released", created_at=later)
    CheckoutSession.create(reservation=failed, user_id="fan-4", idempotency_key="k4", amount_cents=5000, status="failed")
    Reservation.create(id=uuid.uuid4(), event=event, tier=vip, user_id="fan-5", quantity=2, status="expired", created_at=later)
    Reservation.create(id=uuid.uuid4(), event=event, tier=vip, user_id="fan-6", quantity=1, status="rejected", created_at=later)
    positions = {f"fan-{i}": i for i in range(1, 8)}
    fans = [FakeFan("fan-1", "bought", 3, 3), FakeFan("fan-2", "bought", 1, 1), FakeFan("fan-3", "bought", 2, 2),
            FakeFan("fan-4", "payment_failed"), FakeFan("fan-5", "abandoned"), FakeFan("fan-6", "rejected"),
            FakeFan("fan-7", "sold_out")]
    return {"event": event, "ga": ga, "vip": vip, "positions": positions, "fans": fans}


def _check(drop):
    return check_database(str(drop["event"].id), purchase_limit=6, positions=drop["positions"])[0]


def test_a_correct_drop_has_no_violations_and_a_summary(drop):
    violations, summary = check_database(str(drop["event"].id), purchase_limit=6, positions=drop["positions"])
    assert violations == []
    assert summary["orders_paid"] == 3
    assert summary["tickets"] == 6
    assert summary["admitted_up_to"] == 6
    assert summary["reservations"] == {"converted": 3, "released": 1, "expired": 1, "rejected": 1}
    assert check_fans(drop["fans"], paid_by_user(str(drop["event"].id))) == []
    assert summary["waitlist"] == {"entries": {}, "offers_made": 0, "tickets_sold": 0}


def test_the_summary_counts_waitlist_offers_and_the_tickets_they_sold(drop):
    event, ga, now = drop["event"], drop["ga"], utcnow()
    bought = Reservation.get(Reservation.user_id == "fan-2")  # fan-2's hold was a waitlist offer
    WaitlistEntry.create(event=event, tier=ga, user_id="fan-2", quantity=1, rank=2, status="purchased",
                         reservation_id=bought.id, offered_at=now)
    lapsed = Reservation.get(Reservation.user_id == "fan-5")
    WaitlistEntry.create(event=event, tier=ga, user_id="fan-5", quantity=2, rank=5, status="lapsed",
                         reservation_id=lapsed.id, offered_at=now)
    WaitlistEntry.create(event=event, tier=ga, user_id="fan-7", quantity=1, rank=7, status="left")
    _, summary = check_database(str(event.id), purchase_limit=6, positions=drop["positions"])
    assert summary["waitlist"] == {"entries": {"purchased": 1, "lapsed": 1, "left": 1}, "offers_made": 2, "tickets_sold": 1}


def test_a_sold_counter_that_disagrees_with_orders_is_a_violation(drop):
    TicketTier.update(sold=3).where(TicketTier.id == drop["ga"].id).execute()
    assert any("sold counter 3 != paid order quantities 4" in v for v in _check(drop))


def test_holds_left_after_the_drain_are_violations(drop):
    TicketTier.update(sold=1, held=1).where(TicketTier.id == drop["vip"].id).execute()
    Reservation.update(status="held").where(Reservation.user_id == "fan-5").execute()
    violations = _check(drop)
    assert any("still counted as held" in v for v in violations)
    assert any("reservations still 'held'" in v for v in violations)


def test_a_paid_order_missing_a_ticket_is_a_violation(drop):
    order = Order.get(Order.user_id == "fan-1")
    Ticket.delete().where(Ticket.order == order, Ticket.seq == 3).execute()
    assert any(f"paid order {order.id}: 2 tickets" in v for v in _check(drop))


def test_an_order_whose_reservation_is_not_converted_is_a_violation(drop):
    Reservation.update(status="expired").where(Reservation.user_id == "fan-2").execute()
    assert any("is 'expired', not converted" in v for v in _check(drop))


def test_overlapping_or_gapped_waves_are_violations(drop):
    AdmissionWave.create(event=drop["event"], first_position=6, last_position=8, admitted_at=utcnow() + timedelta(seconds=5))
    AdmissionWave.create(event=drop["event"], first_position=12, last_position=13, admitted_at=utcnow() + timedelta(seconds=6))
    violations = _check(drop)
    assert any("overlaps position 7" in v for v in violations)
    assert any("leaves a gap before position 9" in v for v in violations)


def test_a_fan_reserving_before_their_wave_is_a_violation(drop):
    drop["positions"]["fan-6"] = 50
    assert any("reserved before their wave" in v and "fan-6" in v for v in _check(drop))


def test_two_fans_with_one_position_is_a_violation(drop):
    drop["positions"]["fan-7"] = 1
    assert any("given to several fans" in v for v in _check(drop))


def test_a_user_over_the_event_limit_is_a_violation(drop):
    assert any("over the per-event limit 2" in v for v in check_database(str(drop["event"].id), purchase_limit=2)[0])


def test_fans_left_hanging_or_disagreeing_with_the_database_are_violations(drop):
    fans = drop["fans"]
    fans[0].tickets = 2
    fans[3].outcome = "bought"
    fans[6].outcome = "waiting"
    fans[6].detail = "still polling"
    violations = check_fans(fans, paid_by_user(str(drop["event"].id)))
    assert any("1 fans never reached a final state {'waiting': 1}" in v for v in violations)
    assert any("2 fans disagree with the database" in v for v in violations)


def test_a_buyer_who_is_not_a_simulated_fan_is_a_violation(drop):
    fans = [f for f in drop["fans"] if f.user_id != "fan-2"]
    assert any("not simulated fans, e.g. fan-2" in v for v in check_fans(fans, paid_by_user(str(drop["event"].id))))
