import uuid
from datetime import timedelta

from bench.purchasecheck import OrderRow, TicketRow, TierRow, read_rows, violations
from models.tables import CheckoutSession, Event, Order, Reservation, Ticket, TicketTier, utcnow


def _sound_sale():
    """GA (capacity 4): two paid orders of 2 and 1 tickets, one failed order, one ticket held."""
    tiers = [TierRow("ga", "GA", capacity=4, sold=3, held=1)]
    orders = [OrderRow("o1", "ga", 2, "paid"), OrderRow("o2", "ga", 1, "paid"), OrderRow("o3", "ga", 1, "failed")]
    tickets = [TicketRow("t1", "o1", "ga", 1, "c1"), TicketRow("t2", "o1", "ga", 2, "c2"), TicketRow("t3", "o2", "ga", 1, "c3")]
    return tiers, orders, tickets


def test_a_sound_sale_has_no_violations():
    assert violations(*_sound_sale()) == []


def test_selling_more_than_the_capacity_is_a_violation():
    tiers, orders, tickets = _sound_sale()
    tiers = [TierRow("ga", "GA", capacity=2, sold=3, held=0)]
    found = violations(tiers, orders, tickets)
    assert any("oversold, sold 3 > capacity 2" in v for v in found)
    assert any("sold 3 + held 0 > capacity 2" in v for v in found)


def test_holds_that_push_past_the_capacity_or_below_zero_are_violations():
    tiers, orders, tickets = _sound_sale()
    assert any("> capacity 4" in v for v in violations([TierRow("ga", "GA", 4, 3, 2)], orders, tickets))
    assert any("held is negative" in v for v in violations([TierRow("ga", "GA", 4, 3, -1)], orders, tickets))


def test_a_sold_counter_that_disagrees_with_the_paid_orders_is_a_violation():
    tiers, orders, tickets = _sound_sale()
    found = violations([TierRow("ga", "GA", 4, 2, 0)], orders, tickets)
    assert found == ["tier GA: sold counter 2 != paid order quantities 3"]


def test_a_ticket_issued_twice_is_a_violation_whether_by_id_code_or_order_seq():
    tiers, orders, tickets = _sound_sale()
    same_seq = tickets + [TicketRow("t4", "o2", "ga", 1, "c4")]
    assert any("duplicate (order, seq)s" in v for v in violations(tiers, orders, same_seq))
    same_code = [*tickets[:2], TicketRow("t3", "o2", "ga", 1, "c1")]
    assert any("duplicate ticket codes, e.g. c1" in v for v in violations(tiers, orders, same_code))
    same_id = [*tickets[:2], TicketRow("t1", "o2", "ga", 1, "c3")]
    assert any("duplicate ticket ids, e.g. t1" in v for v in violations(tiers, orders, same_id))


def test_a_paid_order_missing_a_ticket_is_a_violation():
    tiers, orders, tickets = _sound_sale()
    found = violations(tiers, orders, tickets[1:])
    assert found == ["1 paid orders do not have exactly their tickets, e.g. o1 (1 of 2)"]


def test_tickets_of_an_unpaid_order_of_no_order_or_of_another_tier_are_violations():
    tiers, orders, tickets = _sound_sale()
    assert any("not paid" in v for v in violations(tiers, orders, tickets + [TicketRow("t9", "o3", "ga", 1, "c9")]))
    assert any("belong to no order" in v for v in violations(tiers, orders, tickets + [TicketRow("t9", "ox", "ga", 1, "c9")]))
    wrong = [*tickets[:2], TicketRow("t3", "o2", "vip", 1, "c3")]
    assert any("tier other than their order's" in v for v in violations(tiers, orders, wrong))


def test_read_rows_returns_the_events_tiers_orders_and_tickets_from_the_database(db):
    now = utcnow()
    event = Event.create(name="Bench", venue="Arena", starts_at=now + timedelta(days=30), on_sale_at=now, status="on_sale")
    other = Event.create(name="Other", venue="Arena", starts_at=now + timedelta(days=30), on_sale_at=now, status="on_sale")
    tier = TicketTier.create(event=event, name="GA", price_cents=5000, capacity=4, sold=2)
    TicketTier.create(event=other, name="GA", price_cents=5000, capacity=4)
    res = Reservation.create(id=uuid.uuid4(), event=event, tier=tier, user_id="u1", quantity=2, status="converted")
    session = CheckoutSession.create(reservation=res, user_id="u1", idempotency_key="k", amount_cents=10000, status="paid")
    order = Order.create(session=session, user_id="u1", event=event, tier=tier, quantity=2, amount_cents=10000)
    Ticket.create(order=order, seq=1, code="code-1", qr_sig="s", user_id="u1", event=event, tier=tier)

    tiers, orders, tickets = read_rows(str(event.id))

    assert tiers == [TierRow(str(tier.id), "GA", 4, 2, 0)]
    assert orders == [OrderRow(str(order.id), str(tier.id), 2, "paid")]
    assert [(t.order_id, t.seq, t.code) for t in tickets] == [(str(order.id), 1, "code-1")]
    assert violations(tiers, orders, tickets) == [f"1 paid orders do not have exactly their tickets, e.g. {order.id} (1 of 2)"]
