"""Ticket issuance (exactly N, whatever the retries), signatures, listing and QR codes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import tickets
from models.errors import NotFound
from models.tables import Ticket, utcnow
from tests.unit.models.checkout_factories import make_event, make_order, make_tier

SECRET = b"test-secret-key-0123456789abcdef"


def test_issuing_an_order_creates_quantity_tickets_numbered_from_one_with_valid_signatures(db):
    order = make_order(make_tier(), quantity=3)
    assert tickets.issue_for_order(SECRET, order.id) == 3
    issued = list(Ticket.select().where(Ticket.order == order.id).order_by(Ticket.seq))
    assert [t.seq for t in issued] == [1, 2, 3]
    assert len({t.code for t in issued}) == 3
    for t in issued:
        assert t.status == "valid" and t.user_id == order.user_id
        assert t.qr_sig == tickets.sign(SECRET, t.code, str(order.event_id), str(order.tier_id), order.user_id)


def test_issuing_again_creates_nothing_and_raises_nothing(db):
    order = make_order(make_tier(), quantity=2)
    tickets.issue_for_order(SECRET, order.id)
    assert tickets.issue_for_order(SECRET, order.id) == 0
    assert Ticket.select().where(Ticket.order == order.id).count() == 2


def test_a_seq_issued_by_a_concurrent_run_is_kept_and_only_the_rest_is_added(db, monkeypatch):
    order = make_order(make_tier(), quantity=3)
    tickets.issue_for_order(SECRET, order.id)
    Ticket.delete().where(Ticket.order == order.id, Ticket.seq == 3).execute()
    # A racing issuer read "seq 2 and 3 missing" before seq 2 came back: its insert of seq 2 must be dropped.
    real_select = Ticket.select
    monkeypatch.setattr(Ticket, "select", lambda *a: real_select(*a).where(Ticket.seq == 1))
    assert tickets.issue_for_order(SECRET, order.id) == 1
    monkeypatch.undo()
    assert sorted(t.seq for t in Ticket.select().where(Ticket.order == order.id)) == [1, 2, 3]


def test_issuing_for_an_unknown_order_creates_nothing(db):
    assert tickets.issue_for_order(SECRET, "00000000-0000-0000-0000-000000000000") == 0


def test_the_recovery_sweep_fills_orders_whose_issuance_was_lost_but_leaves_fresh_ones(db, runtime):
    tier = make_tier()
    old = make_order(tier, "fan-1", 2, created_at=utcnow() - timedelta(seconds=tickets.ISSUE_GRACE_S + 5))
    fresh = make_order(tier, "fan-2", 2)
    assert tickets.issue_missing_tickets(runtime) == 2
    assert Ticket.select().where(Ticket.order == old.id).count() == 2
    assert Ticket.select().where(Ticket.order == fresh.id).count() == 0
    assert tickets.issue_missing_tickets(runtime) == 0


def test_the_signature_binds_code_event_tier_and_owner():
    base = tickets.sign(SECRET, "c", "e", "t", "u")
    assert base != tickets.sign(SECRET, "c", "e", "t", "someone-else")
    assert base != tickets.sign(SECRET, "c", "e", "t2", "u")
    assert base != tickets.sign(b"another-secret-0123456789abcdef", "c", "e", "t", "u")


def test_a_fan_lists_every_ticket_across_events_with_event_and_tier_details(db):
    first = make_tier(make_event(name="Early show", starts_at=utcnow() + timedelta(days=2)), name="Balcony")
    second = make_tier(make_event(name="Late show", starts_at=utcnow() + timedelta(days=9)))
    for tier in (second, first):
        tickets.issue_for_order(SECRET, make_order(tier, "fan-1", 1).id)
    tickets.issue_for_order(SECRET, make_order(first, "fan-2", 1).id)
    mine = tickets.user_tickets("fan-1")
    assert [t["event"]["name"] for t in mine] == ["Early show", "Late show"]
    assert mine[0]["tier"]["name"] == "Balcony"
    assert mine[0]["qr_payload"] == f"TD1.{mine[0]['code']}.{first.event_id}.{first.id}.{mine[0]['qr_sig']}"


def test_the_qr_code_is_an_svg_for_the_owner_and_not_found_for_anyone_else(db):
    order = make_order(make_tier(), "fan-1", 1)
    tickets.issue_for_order(SECRET, order.id)
    code = Ticket.get(Ticket.order == order.id).code
    svg = tickets.qr_svg("fan-1", code)
    assert svg.lstrip().startswith(b"<svg") and b"</svg>" in svg
    with pytest.raises(NotFound):
        tickets.qr_svg("fan-2", code)
    with pytest.raises(NotFound):
        tickets.qr_svg("fan-1", "no-such-code")
