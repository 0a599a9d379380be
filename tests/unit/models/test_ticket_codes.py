"""Rotating ticket codes at the gate, the event's ticket_mode, and transfers killing old codes."""

from __future__ import annotations

import asyncio

import pytest

from models import ticket_codes, ticket_scan, ticket_transfer, tickets
from models.errors import Conflict, Forbidden, LimitExceeded, NotFound, ValidationFailed
from models.inventory import rebuild_counters
from models.tables import Event, Ticket, TicketTransfer
from tests.races import at_once
from tests.unit.models.checkout_factories import make_event, make_order, make_tier

SECRET = b"test-secret-key-0123456789abcdef"
ROTATE_S = 15
NOW = 1_800_000_000.0
STEP = int(NOW // ROTATE_S)


def _ticket(user: str = "fan-1", **event_fields) -> Ticket:
    order = make_order(make_tier(make_event(**event_fields)), user, 1)
    tickets.issue_for_order(SECRET, order.id)
    return Ticket.get(Ticket.order == order.id)


@pytest.fixture
def ticket(db) -> Ticket:
    return _ticket()


def code_at(ticket: Ticket, step: int) -> str:
    return ticket_codes.rotating_code(Ticket.get_by_id(ticket.id).secret, ticket.code, step)


def check_in(payload: str, now_s: float = NOW):
    return ticket_scan.check_in(SECRET, payload, rotate_s=ROTATE_S, now_s=now_s)


def refusal(payload: str, now_s: float = NOW) -> Forbidden:
    with pytest.raises(Forbidden) as info:
        check_in(payload, now_s)
    return info.value


def test_every_issued_ticket_gets_its_own_secret_that_lists_never_show(ticket):
    other = _ticket("fan-1")
    assert len(ticket.secret) == 64 and ticket.secret != other.secret
    listed = tickets.user_tickets("fan-1")
    assert all(ticket.secret not in repr(t) and "secret" not in t for t in listed)


def test_a_code_from_three_steps_ago_is_refused_with_the_expired_message(ticket):
    err = refusal(code_at(ticket, STEP - 3))
    assert err.extra["result"] == "expired"
    assert err.detail == "expired code: ask the fan to show the live ticket"
    assert ticket_scan.verify(SECRET, code_at(ticket, STEP - 2), rotate_s=ROTATE_S, now_s=NOW)["result"] == "expired"
    assert Ticket.get_by_id(ticket.id).status == "valid"


def test_a_code_from_the_next_step_is_admitted(ticket):
    assert check_in(code_at(ticket, STEP + 1))["result"] == "admitted"


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_the_current_step_and_one_either_side_verify_as_valid(ticket, delta):
    out = ticket_scan.verify(SECRET, code_at(ticket, STEP + delta), rotate_s=ROTATE_S, now_s=NOW)
    assert out["result"] == "valid" and out["ticket"]["code"] == ticket.code


def test_a_code_two_steps_ahead_is_refused_as_not_yet_valid(ticket):
    assert refusal(code_at(ticket, STEP + 2)).extra["result"] == "not_yet_valid"


def test_a_made_up_mac_or_a_mac_under_another_secret_is_an_invalid_signature(ticket):
    genuine = code_at(ticket, STEP)
    forged = [genuine[:-4] + ("0000" if not genuine.endswith("0000") else "1111"),
              ticket_codes.rotating_code(ticket_codes.new_secret(), ticket.code, STEP),
              f"{'0' * 32}.{STEP}.{'0' * 16}", f"{ticket.code}.{STEP}", f"{ticket.code}.x.{'0' * 16}"]
    for payload in forged:
        err = refusal(payload)
        assert err.extra["result"] == "invalid_signature" and err.extra["ticket"] is None, payload


def test_a_rotating_code_is_checked_in_once_and_then_reports_when(ticket):
    first = check_in(code_at(ticket, STEP))
    with pytest.raises(Conflict) as info:
        check_in(code_at(ticket, STEP + 1), NOW + ROTATE_S)
    assert info.value.extra["result"] == "checked_in" and info.value.extra["checked_in_at"] == first["checked_in_at"]


def test_two_scanners_reading_one_rotating_code_at_once_admit_it_once(ticket, db):
    payload = code_at(ticket, STEP)
    results = at_once(8, lambda: check_in(payload)["result"], db=db, expected=(Conflict,))
    assert sorted(results) == ["admitted"] + ["checked_in"] * 7


def test_a_rotating_event_refuses_the_printed_code_and_a_static_event_the_rotating_one(db):
    live_only = _ticket(ticket_mode="rotating")
    assert refusal(tickets.qr_payload(live_only)).extra["result"] == "static_refused"
    assert check_in(code_at(live_only, STEP))["result"] == "admitted"
    printed_only = _ticket(ticket_mode="static")
    assert refusal(code_at(printed_only, STEP)).extra["result"] == "rotating_refused"
    assert check_in(tickets.qr_payload(printed_only))["result"] == "admitted"
    both = _ticket()
    assert Event.get_by_id(both.event_id).ticket_mode == "both"
    assert check_in(tickets.qr_payload(both))["result"] == "admitted"


def test_the_owner_gets_the_key_others_get_404_and_a_static_event_409(ticket):
    key = ticket_transfer.rotating_key("fan-1", ticket.code, rotate_s=ROTATE_S, now_s=NOW)
    assert key["secret"] == ticket.secret and key["step"] == STEP and key["rotate_s"] == ROTATE_S
    assert ticket_codes.rotating_code(key["secret"], key["code"], key["step"]) == code_at(ticket, STEP)
    with pytest.raises(NotFound):
        ticket_transfer.rotating_key("fan-2", ticket.code, rotate_s=ROTATE_S)
    printed_only = _ticket(ticket_mode="static")
    with pytest.raises(Conflict):
        ticket_transfer.rotating_key("fan-1", printed_only.code, rotate_s=ROTATE_S)


def test_a_ticket_issued_before_rotating_codes_gets_its_secret_on_first_use(ticket):
    Ticket.update(secret=None).where(Ticket.id == ticket.id).execute()
    first = ticket_transfer.rotating_key("fan-1", ticket.code, rotate_s=ROTATE_S)["secret"]
    again = ticket_transfer.rotating_key("fan-1", ticket.code, rotate_s=ROTATE_S)["secret"]
    assert first == again == Ticket.get_by_id(ticket.id).secret and len(first) == 64


def _transfer(runtime, code: str, from_user: str, to_user: str, limit: int = 6):
    async def blocking(fn, *args):
        return fn(*args)

    import fakeredis

    aredis = fakeredis.FakeAsyncRedis(server=runtime.redis.connection_pool.connection_kwargs["server"],
                                      decode_responses=True)
    return asyncio.run(ticket_transfer.transfer(aredis, runtime.keys, SECRET, limit, blocking, from_user=from_user,
                                                code=code, to_user=to_user))


def test_a_transfer_kills_the_old_owners_codes_at_once_and_the_receiver_scans(runtime, ticket):
    old_rotating, old_printed = code_at(ticket, STEP), tickets.qr_payload(ticket)
    document = _transfer(runtime, ticket.code, "fan-1", "fan-2")
    assert document["to_user"] == "fan-2" and document["from_user"] == "fan-1"
    moved = Ticket.get_by_id(ticket.id)
    assert moved.user_id == "fan-2" and moved.secret != ticket.secret
    assert refusal(old_rotating).extra["result"] == "invalid_signature"
    assert refusal(old_printed).extra["result"] == "invalid_signature"
    assert check_in(code_at(moved, STEP))["result"] == "admitted"


def test_a_transfer_that_lands_between_a_scan_and_its_check_in_admits_nobody(runtime, ticket, monkeypatch):
    stale = code_at(ticket, STEP)
    read = ticket_scan.read

    def read_then_transfer(*args, **kwargs):
        reading = read(*args, **kwargs)
        _transfer(runtime, ticket.code, "fan-1", "fan-2")
        return reading

    monkeypatch.setattr(ticket_scan, "read", read_then_transfer)
    assert refusal(stale).extra["result"] == "invalid_signature"
    assert Ticket.get_by_id(ticket.id).status == "valid"


def test_a_retried_transfer_returns_the_same_document_and_moves_nothing_more(runtime, ticket):
    first = _transfer(runtime, ticket.code, "fan-1", "fan-2")
    secret = Ticket.get_by_id(ticket.id).secret
    assert _transfer(runtime, ticket.code, "fan-1", "fan-2") == first
    assert Ticket.get_by_id(ticket.id).secret == secret and TicketTransfer.select().count() == 1
    with pytest.raises(NotFound):
        _transfer(runtime, ticket.code, "fan-1", "fan-3")


def test_transfers_refuse_checked_in_tickets_other_fans_tickets_and_yourself(runtime, ticket):
    with pytest.raises(ValidationFailed):
        _transfer(runtime, ticket.code, "fan-1", "fan-1")
    with pytest.raises(ValidationFailed):
        _transfer(runtime, ticket.code, "fan-1", "has space")
    with pytest.raises(NotFound):
        _transfer(runtime, ticket.code, "fan-9", "fan-2")
    check_in(code_at(ticket, STEP))
    with pytest.raises(Conflict) as info:
        _transfer(runtime, ticket.code, "fan-1", "fan-2")
    assert info.value.extra["reason"] == "already_checked_in"


def test_the_receivers_per_event_limit_applies_in_redis_and_in_the_database(runtime, db):
    ticket = _ticket("fan-1")
    make_order(Ticket.get_by_id(ticket.id).tier, "fan-2", 2)
    rebuild_counters(runtime.redis, runtime.keys, str(ticket.event_id))
    with pytest.raises(LimitExceeded) as info:
        _transfer(runtime, ticket.code, "fan-1", "fan-2", limit=2)
    assert info.value.extra["counted"] == 2
    assert Ticket.get_by_id(ticket.id).user_id == "fan-1"
    assert runtime.redis.hget(runtime.keys.user_counts(str(ticket.event_id)), "fan-2") == "2"
    runtime.redis.delete(runtime.keys.stock(str(ticket.event_id)))  # counters gone: the database decides
    with pytest.raises(LimitExceeded):
        _transfer(runtime, ticket.code, "fan-1", "fan-2", limit=2)


def test_a_received_ticket_counts_for_the_receiver_and_no_longer_for_a_sender_who_received_it(runtime, db):
    ticket = _ticket("fan-1")
    event_id = str(ticket.event_id)
    counts = runtime.keys.user_counts(event_id)
    rebuild_counters(runtime.redis, runtime.keys, event_id)
    _transfer(runtime, ticket.code, "fan-1", "fan-2")
    assert runtime.redis.hget(counts, "fan-2") == "1" and runtime.redis.hget(counts, "fan-1") == "1"
    _transfer(runtime, ticket.code, "fan-2", "fan-3")
    assert runtime.redis.hget(counts, "fan-2") is None and runtime.redis.hget(counts, "fan-3") == "1"
    live = runtime.redis.hgetall(counts)
    rebuild_counters(runtime.redis, runtime.keys, event_id)
    assert runtime.redis.hgetall(counts) == live == {"fan-1": "1", "fan-3": "1"}
