"""Rotating codes and transfers on PostgreSQL and Redis: one admission from simultaneous scans,
a transferred ticket's old code refused, and simultaneous transfers to one fan kept to their limit."""

from __future__ import annotations

import threading
import time

from models import ticket_codes, ticket_scan, ticket_transfer, tickets
from models.errors import Conflict, LimitExceeded
from models.inventory import rebuild_counters
from models.tables import Ticket
from tests.races import at_once
from tests.unit.models.checkout_factories import make_order, make_tier
from web.dbexec import run_db


def _issue(settings, user="fan-1", quantity=1) -> Ticket:
    order = make_order(make_tier(), user, quantity)
    tickets.issue_for_order(settings.secret_bytes, order.id)
    return Ticket.get(Ticket.order == order.id)


def test_two_scanners_checking_in_one_rotating_code_at_once_admit_it_once(settings, db):
    with db.connection_context():
        ticket = _issue(settings)
    payload = ticket_codes.rotating_code(ticket.secret, ticket.code, ticket_codes.current_step(settings.rotate_s))
    results = at_once(8, lambda: ticket_scan.check_in(settings.secret_bytes, payload, rotate_s=settings.rotate_s)["result"],
                      db=db, expected=(Conflict,))
    assert sorted(results) == ["admitted"] + ["checked_in"] * 7


async def test_a_transferred_tickets_old_code_is_refused_and_the_receivers_code_admitted(client, app, settings, runtime,
                                                                                      admin_headers):
    ticket = await run_db(app, _issue, settings)
    await run_db(app, rebuild_counters, runtime.redis, runtime.keys, str(ticket.event_id))
    step = ticket_codes.current_step(settings.rotate_s, time.time())
    old = ticket_codes.rotating_code(ticket.secret, ticket.code, step)
    resp = await client.post(f"/me/tickets/{ticket.code}/transfer", json={"to_user": "fan-2"}, headers={"X-User-Id": "fan-1"})
    assert resp.status == 200, await resp.text()
    assert runtime.redis.hget(runtime.keys.user_counts(str(ticket.event_id)), "fan-2") == "1"
    refused = await client.post("/admin/tickets/check-in", json={"payload": old}, headers=admin_headers)
    assert refused.status == 403 and (await refused.json())["result"] == "invalid_signature"
    key = await (await client.get(f"/me/tickets/{ticket.code}/rotating", headers={"X-User-Id": "fan-2"})).json()
    fresh = ticket_codes.rotating_code(key["secret"], ticket.code, key["step"])
    admitted = await client.post("/admin/tickets/check-in", json={"payload": fresh}, headers=admin_headers)
    assert admitted.status == 200 and (await admitted.json())["result"] == "admitted"


SENDERS = ("fan-a", "fan-b", "fan-c", "fan-d", "fan-e", "fan-f")


def test_simultaneous_transfers_to_one_fan_stop_at_their_limit_without_the_redis_counters(settings, db, monkeypatch):
    with db.connection_context():
        tier = make_tier(capacity=20)
        given = []
        for sender in SENDERS:
            tickets.issue_for_order(settings.secret_bytes, make_order(tier, sender, 1).id)
            given.append(ticket_transfer.plan_transfer(sender, Ticket.get(Ticket.user_id == sender, Ticket.event == tier.event_id).code,
                                                       "fan-r"))
    plans = iter(given)
    lock = threading.Lock()
    counted = ticket_transfer.counted_tickets

    def counted_slowly(*args):  # every transfer counts before any has moved its ticket, unless they wait
        n = counted(*args)
        time.sleep(0.2)
        return n

    monkeypatch.setattr(ticket_transfer, "counted_tickets", counted_slowly)

    def transfer():
        with lock:
            plan = next(plans)
        return ticket_transfer.commit_transfer(settings.secret_bytes, plan, limit=2)["to_user"]

    results = at_once(len(SENDERS), transfer, db=db, keep_errors=True)
    assert results.count("fan-r") == 2, results
    assert sum(isinstance(r, LimitExceeded) for r in results) == len(SENDERS) - 2, results
    with db.connection_context():
        assert Ticket.select().where(Ticket.user_id == "fan-r").count() == 2
