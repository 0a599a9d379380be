"""Exactly-once checkout on real PostgreSQL, Redis and RabbitMQ: concurrent claims and
settlements, and an issuance worker killed mid-flight whose message the broker redelivers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import dramatiq
import pytest
from dramatiq import Worker
from dramatiq.common import dq_name, xq_name
from dramatiq.middleware import Middleware

from models import checkout, tickets
from models.checkout import idempotency
from models.errors import InFlight
from models.tables import Order, Ticket
from tests.integration.conftest import RABBITMQ_URL, require
from tests.integration.test_brokers import _rabbitmq_ping
from tests.races import at_once
from tests.unit.models.checkout_factories import make_hold, make_order, make_tier, tier_counts
from workers import checkout as checkout_actors
from workers.broker import build_broker

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
#: How long a redelivered message may take to be processed, in seconds.
REDELIVERY_TIMEOUT_S = 20


def in_threads(n: int, db, fn) -> list:
    """Run ``fn()`` in ``n`` threads released together; the results (or exceptions) in a list."""
    return at_once(n, fn, db=db, keep_errors=True)


def test_forty_simultaneous_claims_of_one_key_let_one_through(db):
    out = in_threads(40, db, lambda: idempotency.claim(user_id="fan-1", scope="POST /checkout/sessions", key="k",
                                                        request_hash="h", ttl_s=3600))
    assert sum(isinstance(o, idempotency.Claim) for o in out) == 1
    assert sum(isinstance(o, InFlight) for o in out) == 39


def test_forty_simultaneous_settlements_of_one_session_make_one_order(runtime, db):
    tier = make_tier(capacity=10)
    hold = make_hold(tier, "fan-1", 3, redis=runtime.redis, keys=runtime.keys)
    sid = checkout.open_session(user_id="fan-1", reservation_id=hold.id, idempotency_key="k").document["id"]
    checkout.begin_confirm(user_id="fan-1", session_id=sid, simulate="success")
    out = in_threads(40, db, lambda: checkout.settle(runtime, sid))
    assert not [o for o in out if isinstance(o, Exception)]
    assert {o.order_id for o in out} == {str(Order.get().id)}
    assert Order.select().count() == 1 and tier_counts(tier) == (3, 0)


def test_simultaneous_issuers_of_one_order_create_each_ticket_once_without_errors(runtime, db):
    order = make_order(make_tier(), "fan-1", 5)
    out = in_threads(12, db, lambda: tickets.issue_for_order(runtime.settings.secret_bytes, order.id))
    assert not [o for o in out if isinstance(o, Exception)]
    assert sum(out) == 5
    assert sorted(t.seq for t in Ticket.select().where(Ticket.order == order.id)) == [1, 2, 3, 4, 5]


# -- a worker killed while issuing, and the broker's redelivery -------------------------------

#: The killed worker: takes the message from RabbitMQ without acknowledging it, issues the
#: tickets (committed or not, by mode), says so, then hangs until it is killed.
CHILD = r"""
import sys, time
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from models.db import bind_database, database, open_database
from models.tickets import issue_for_order

url, queue, database_url, secret, mode = sys.argv[1:6]
bind_database(open_database(database_url, max_connections=1))
broker = RabbitmqBroker(url=url)
broker.declare_queue(queue)
for message in broker.consume(queue, prefetch=1, timeout=10_000):
    if message is None:
        continue
    with database.connection_context():
        if mode == "mid_transaction":
            with database.atomic():
                issue_for_order(secret.encode(), message.args[0])
                print("issued", flush=True)
                time.sleep(120)
        else:
            issue_for_order(secret.encode(), message.args[0])
            print("issued", flush=True)
            time.sleep(120)
"""


class Outcomes(Middleware):
    """Records every processed message and the exception it raised, if any."""

    def __init__(self) -> None:
        self.done: list[tuple[str, BaseException | None]] = []

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self.done.append((message.message_id, exception))


@contextmanager
def rabbitmq_queue(settings, fn=checkout_actors.issue_tickets):
    """A RabbitMQ broker with ``fn`` as its one actor, on a queue of its own (deleted after)."""
    require("RabbitMQ", _rabbitmq_ping)
    queue = f"td_test_{uuid.uuid4().hex[:10]}"
    broker = build_broker(settings.with_(broker_url=RABBITMQ_URL))
    actor = dramatiq.actor(fn, broker=broker, queue_name=queue, max_retries=settings.actor_max_retries)
    try:
        yield broker, queue, actor
    finally:
        for name in (queue, dq_name(queue), xq_name(queue)):
            broker.channel.queue_delete(name)
        broker.close()


@pytest.mark.parametrize("mode", ["mid_transaction", "after_commit_before_ack"])
def test_a_killed_issuer_is_redelivered_and_the_tickets_exist_exactly_once(runtime, db, settings, mode):
    order = make_order(make_tier(), "fan-1", 4)
    with rabbitmq_queue(settings) as (broker, queue, issue_tickets):
        issue_tickets.send(str(order.id))
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, RABBITMQ_URL, queue, settings.database_url, settings.secret_key, mode],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert child.stdout.readline().strip() == "issued"
        finally:
            child.kill()  # SIGKILL: no cleanup, no ack, an open transaction is abandoned
            child.wait(timeout=10)
        expected_before = 0 if mode == "mid_transaction" else 4
        assert Ticket.select().where(Ticket.order == order.id).count() == expected_before

        outcomes = Outcomes()
        broker.add_middleware(outcomes)
        worker = Worker(broker, queues={queue}, worker_timeout=100, worker_threads=1)
        worker.start()
        try:
            deadline = time.monotonic() + REDELIVERY_TIMEOUT_S
            while time.monotonic() < deadline and not outcomes.done:
                time.sleep(0.05)
        finally:
            worker.stop()
    assert len(outcomes.done) == 1, "RabbitMQ did not redeliver the unacknowledged message"
    assert outcomes.done[0][1] is None  # the redelivery ran without an error
    issued = list(Ticket.select().where(Ticket.order == order.id).order_by(Ticket.seq))
    assert [t.seq for t in issued] == [1, 2, 3, 4]
    assert all(t.qr_sig == tickets.sign(settings.secret_bytes, t.code, str(order.event_id), str(order.tier_id), "fan-1")
               for t in issued)
