"""The whole purchase funnel on real PostgreSQL and Redis: 500 buyers race for 200 tickets
(reserve -> session -> confirm through HTTP, decided and settled by workers in batches), and a
settling worker killed in the middle of its batch transaction, whose message RabbitMQ redelivers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from dramatiq import Worker

from models import checkout
from models.tables import CheckoutSession, Order, Ticket, TicketTier
from tests.integration.conftest import RABBITMQ_URL, require
from tests.integration.test_brokers import _rabbitmq_ping
from tests.integration.test_checkout_concurrency import ROOT, Outcomes, rabbitmq_queue
from tests.unit.models.checkout_factories import make_hold, make_tier, tier_counts
from tests.unit.web.catalog_helpers import create_event, create_tier, iso_in
from tests.unit.web.test_checkout_journeys import WAIT, fan
from workers import checkout as checkout_actors

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUYERS, TICKETS = 500, 200
#: Orders whose ticket count differs from their quantity, in one statement (one snapshot).
SHORT_ORDERS = ("SELECT count(*) FROM orders o WHERE o.quantity <> "
                "(SELECT count(*) FROM tickets t WHERE t.order_id = o.id)")


async def admitted_buyers(shop, admin_headers, runtime) -> tuple[str, str, list[tuple[str, str]]]:
    event = await create_event(shop, admin_headers, name="Race", status="on_sale", on_sale_at=iso_in(minutes=-5),
                               wave_size=1000)
    tier = await create_tier(shop, admin_headers, event["id"], name="GA", capacity=TICKETS, price_cents=3_000)
    buyers = []
    for n in range(BUYERS):
        user = f"buyer-{n}"
        resp = await shop.post(f"/events/{event['id']}/waiting-room/join", headers=fan(user))
        assert resp.status == 201, await resp.text()
        buyers.append((user, (await resp.json())["token"]))
    admit_everyone(runtime, event["id"])
    return event["id"], tier["id"], buyers


def admit_everyone(runtime, event_id: str) -> None:
    """Admit all BUYERS in one wave past the room's stock-based sizing, so that more fans than
    tickets race (as bench.reserve does): the database, not the room, must stop the oversell."""
    from models.redis import scripts

    up_to = int(runtime.redis.hget(runtime.keys.room(event_id), "up_to") or 0)
    now = int(time.time() * 1000)
    scripts(runtime.redis).get("room_admit")(keys=[runtime.keys.room(event_id), runtime.keys.room_waves(event_id)],
                                             args=[up_to, BUYERS, now, now + 3_600_000, BUYERS - up_to, now + 86_400_000])


async def buy(shop, event_id: str, tier_id: str, user: str, token: str) -> str:
    """One fan's purchase; returns how it ended (paid, sold_out, or what went wrong)."""
    held = await shop.post(f"/events/{event_id}/reservations", json={"tier_id": tier_id, "quantity": 1, "token": token},
                           headers=fan(user, **WAIT))
    body = await held.json()
    if held.status == 409:
        return body.get("reason") or body["code"]
    assert held.status == 201, body
    opened = await shop.post("/checkout/sessions", json={"reservation_id": body["id"]},
                             headers=fan(user, **{"Idempotency-Key": uuid.uuid4().hex}))
    session = await opened.json()
    assert opened.status == 201, session
    paid = await shop.post("/checkout/confirm", json={"checkoutId": session["id"], "simulate": "success"},
                           headers=fan(user, Prefer="wait=30"))
    document = await paid.json()
    assert paid.status == 200 and document["status"] == "paid", document
    # Paid means ticketed: the tickets are in the answer that first says paid.
    assert [t["seq"] for t in document["tickets"]] == [1], document
    return "paid"


def watch_for_orders_without_tickets(db, stop: threading.Event, seen: list[int]) -> None:
    with db.connection_context():
        while not stop.is_set():
            seen.append(db.execute_sql(SHORT_ORDERS).fetchone()[0])
            time.sleep(0.005)


async def test_five_hundred_buyers_racing_for_two_hundred_tickets_buy_exactly_two_hundred(shop, admin_headers, runtime, db):
    event_id, tier_id, buyers = await admitted_buyers(shop, admin_headers, runtime)
    stop, seen = threading.Event(), []
    watcher = threading.Thread(target=watch_for_orders_without_tickets, args=(db, stop, seen))
    watcher.start()
    try:
        ends = await asyncio.gather(*(buy(shop, event_id, tier_id, user, token) for user, token in buyers))
    finally:
        stop.set()
        watcher.join()
    assert ends.count("paid") == TICKETS and set(ends) == {"paid", "sold_out"}
    tier = TicketTier.get_by_id(tier_id)
    assert (tier.sold, tier.held) == (TICKETS, 0)
    assert Order.select().count() == TICKETS and CheckoutSession.select().where(CheckoutSession.status == "paid").count() == TICKETS
    codes = [t.code for t in Ticket.select(Ticket.code)]
    assert len(codes) == TICKETS and len(set(codes)) == TICKETS
    assert len({(o.user_id) for o in Order.select(Order.user_id)}) == TICKETS
    assert seen and max(seen) == 0, "an order was visible without its tickets"


#: The killed settler: takes the settle message from RabbitMQ without acknowledging it, runs the
#: batch up to its orders and tickets (inserted, not committed), says so, then hangs until killed.
CHILD = r"""
import sys, time, types
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from models.checkout import batch
from models.db import bind_database, database, open_database
from models.keys import Keys
from models.redis import connect_sync

url, queue, database_url, redis_url, prefix, secret = sys.argv[1:7]
bind_database(open_database(database_url, max_connections=1))
rt = types.SimpleNamespace(redis=connect_sync(redis_url), keys=Keys(prefix),
                           settings=types.SimpleNamespace(secret_bytes=secret.encode()))
real = batch._insert_orders_and_tickets

def inserted_then_hang(*args, **kwargs):
    real(*args, **kwargs)
    print("inserted", flush=True)
    time.sleep(120)

batch._insert_orders_and_tickets = inserted_then_hang
broker = RabbitmqBroker(url=url)
broker.declare_queue(queue)
for message in broker.consume(queue, prefetch=1, timeout=10_000):
    if message is not None:
        with database.connection_context():
            batch.settle_event(rt, message.args[0], lambda: None)
"""


def test_a_settler_killed_mid_batch_loses_nothing_and_the_redelivery_settles_each_session_once(runtime, db, settings):
    require("RabbitMQ", _rabbitmq_ping)
    tier = make_tier(capacity=20)
    sids = []
    for n in range(6):
        hold = make_hold(tier, f"fan-{n}", 2, redis=runtime.redis, keys=runtime.keys)
        sid = checkout.open_session(user_id=f"fan-{n}", reservation_id=hold.id, idempotency_key="k").document["id"]
        checkout.begin_confirm(user_id=f"fan-{n}", session_id=sid, simulate="success" if n % 3 else "fail")
        sids.append(sid)
    with rabbitmq_queue(settings, checkout_actors.settle_checkouts) as (broker, queue, settle_checkouts):
        settle_checkouts.send(str(tier.event_id))
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, RABBITMQ_URL, queue, settings.database_url, settings.redis_url,
             settings.redis_prefix, settings.secret_key],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "inserted"
        finally:
            child.kill()  # SIGKILL mid-transaction: no commit, no ack
            child.wait(timeout=10)
        assert Order.select().count() == 0 and Ticket.select().count() == 0
        assert {s.status for s in CheckoutSession.select()} == {"processing"} and tier_counts(tier) == (0, 12)

        outcomes = Outcomes()
        broker.add_middleware(outcomes)
        worker = Worker(broker, queues={queue}, worker_timeout=100, worker_threads=1)
        worker.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not outcomes.done:
                time.sleep(0.05)
        finally:
            worker.stop()
    assert len(outcomes.done) == 1 and outcomes.done[0][1] is None, "RabbitMQ did not redeliver the settle message"
    statuses = {sid: CheckoutSession.get_by_id(sid).status for sid in sids}
    assert sorted(statuses.values()) == ["failed", "failed", "paid", "paid", "paid", "paid"]
    assert Order.select().count() == 4 and Ticket.select().count() == 8
    assert tier_counts(tier) == (8, 0)
