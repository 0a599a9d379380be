"""Gate scanning: verification outcomes and exactly-once check-in."""

from __future__ import annotations

import pytest

from models import ticket_scan, tickets
from models.errors import Conflict, Forbidden
from models.tables import Ticket
from tests.races import at_once
from tests.unit.models.checkout_factories import make_order, make_tier

SECRET = b"test-secret-key-0123456789abcdef"
ROTATE_S = 15


@pytest.fixture
def ticket(db) -> Ticket:
    order = make_order(make_tier(), "fan-1", 1)
    tickets.issue_for_order(SECRET, order.id)
    return Ticket.get(Ticket.order == order.id)


def test_a_genuine_payload_verifies_as_valid_with_the_ticket(ticket):
    out = ticket_scan.verify(SECRET, tickets.qr_payload(ticket), rotate_s=ROTATE_S)
    assert out["result"] == "valid" and out["checked_in_at"] is None
    assert out["ticket"]["code"] == ticket.code and out["ticket"]["event"]["name"] == "Bad Bunny"


def _forgeries(ticket: Ticket) -> list[str]:
    p = ["TD1", ticket.code, str(ticket.event_id), str(ticket.tier_id), ticket.qr_sig]
    other_owner = tickets.sign(SECRET, ticket.code, p[2], p[3], "fan-2")
    return [
        ".".join(p[:4] + ["0" * 64]),                            # made-up signature
        ".".join(p[:4] + [other_owner]),                         # signed for another owner
        ".".join(p[:3] + ["00000000-0000-0000-0000-000000000000", p[4]]),  # tier swapped
        ".".join(["TD1", "unknowncode"] + p[2:]),                # unknown code
        "TD1." + ticket.code,                                    # truncated
        "hello world",                                           # not ours at all
        ".".join(p[:4] + [p[4] + "é"]),                          # non-ASCII does not crash the comparison
    ]


def test_every_forged_or_malformed_payload_is_an_invalid_signature(ticket):
    for payload in _forgeries(ticket):
        out = ticket_scan.verify(SECRET, payload, rotate_s=ROTATE_S)
        assert (out["result"], out["checked_in_at"], out["ticket"]) == ("invalid_signature", None, None), payload


def test_a_payload_signed_with_another_secret_is_invalid(ticket):
    assert ticket_scan.verify(b"another-secret-0123456789abcdef", tickets.qr_payload(ticket), rotate_s=ROTATE_S)["result"] == "invalid_signature"


def test_check_in_admits_once_then_reports_when_it_was_checked_in(ticket):
    payload = tickets.qr_payload(ticket)
    first = ticket_scan.check_in(SECRET, payload, rotate_s=ROTATE_S)
    assert first["result"] == "admitted" and first["checked_in_at"]
    with pytest.raises(Conflict) as info:
        ticket_scan.check_in(SECRET, payload, rotate_s=ROTATE_S)
    assert info.value.extra["result"] == "checked_in"
    assert info.value.extra["checked_in_at"] == first["checked_in_at"]
    verified = ticket_scan.verify(SECRET, payload, rotate_s=ROTATE_S)
    assert verified["result"] == "checked_in" and verified["checked_in_at"] == first["checked_in_at"]


def test_two_scanners_at_the_same_instant_admit_the_ticket_once(ticket, db):
    payload = tickets.qr_payload(ticket)
    results = at_once(8, lambda: ticket_scan.check_in(SECRET, payload, rotate_s=ROTATE_S)["result"], db=db,
                      expected=(Conflict,))
    assert sorted(results) == ["admitted"] + ["checked_in"] * 7


def test_a_void_ticket_verifies_as_void_and_cannot_be_checked_in(ticket):
    Ticket.update(status="void").where(Ticket.id == ticket.id).execute()
    payload = tickets.qr_payload(ticket)
    assert ticket_scan.verify(SECRET, payload, rotate_s=ROTATE_S)["result"] == "void"
    with pytest.raises(Conflict) as info:
        ticket_scan.check_in(SECRET, payload, rotate_s=ROTATE_S)
    assert info.value.extra["result"] == "void"


def test_checking_in_a_forged_payload_is_forbidden(ticket):
    with pytest.raises(Forbidden) as info:
        ticket_scan.check_in(SECRET, _forgeries(ticket)[0], rotate_s=ROTATE_S)
    assert info.value.extra["result"] == "invalid_signature"
    assert Ticket.get_by_id(ticket.id).status == "valid"
