"""Deployments sharing one RabbitMQ vhost keep their queues apart: a process started with
QUEUE_PREFIX (or a REDIS_PREFIX it follows) declares and sends to ``<prefix>system`` etc.,
and another deployment's unprefixed queue never sees its messages. Checked on real RabbitMQ
wired the way ``python -m workers`` wires them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pika
import pytest
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL
from dramatiq.common import dq_name, xq_name

from models.keys import Keys
from models.settings import ROOT
from tests.integration.conftest import CONNECT_TIMEOUT_S, RABBITMQ_URL, require

pytestmark = pytest.mark.integration

#: Sends one echo message from a fresh process wired from its environment, as a worker is.
_SEND = ("from models.settings import Settings; from workers.entry import wire; w = wire(Settings.from_env()); "
         "w.actors.echo.send('nonce'); print(w.actors.echo.queue_name); w.broker.close()")


def _connection():
    params = pika.URLParameters(RABBITMQ_URL)
    params.socket_timeout = params.blocked_connection_timeout = CONNECT_TIMEOUT_S
    return pika.BlockingConnection(params)


def _send_from_a_deployment(env: dict[str, str]) -> str:
    full = {k: v for k, v in os.environ.items() if k not in ("QUEUE_PREFIX", "REDIS_PREFIX")}
    full.update({"BROKER_URL": RABBITMQ_URL, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", **env})
    done = subprocess.run([sys.executable, "-c", _SEND], env=full, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _depth(connection, queue: str) -> int:
    """Messages ready in ``queue`` (0 if it does not exist)."""
    try:  # a passive declare of a missing queue closes its channel: one channel per look
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    except pika.exceptions.ChannelClosedByBroker:
        return 0


@pytest.mark.parametrize("env_of", [
    lambda tag: {"QUEUE_PREFIX": f"{tag}."},
    lambda tag: {"REDIS_PREFIX": f"{tag}:"},
], ids=["QUEUE_PREFIX", "REDIS_PREFIX"])
def test_a_deployment_s_messages_go_to_its_own_prefixed_queue(env_of):
    connection = require("RabbitMQ", _connection)
    tag = f"td_test_{uuid.uuid4().hex[:10]}"
    queue = f"{tag}.system"
    before = _depth(connection, "system")
    try:
        assert _send_from_a_deployment(env_of(tag)) == queue
        assert _depth(connection, queue) == 1
        assert _depth(connection, "system") == before  # the default deployment's queue got nothing
    finally:
        channel = connection.channel()
        for name in (queue, dq_name(queue), xq_name(queue)):
            channel.queue_delete(name)
        connection.close()


def test_with_broker_quorum_queues_the_work_delay_and_dead_letter_queues_are_quorum_queues(settings, redis):
    """A round trip through quorum queues; a classic redeclaration of each is refused (a queue's
    type is fixed when it is declared), which proves the type."""
    from tests.integration.test_brokers import echo_on, round_trip, worker_runtime
    from workers.broker import build_broker

    connection = require("RabbitMQ", _connection)
    settings = settings.with_(broker_url=RABBITMQ_URL, broker_quorum_queues=True)
    queue = f"td_test_{uuid.uuid4().hex[:10]}"
    broker = build_broker(settings)
    try:
        with worker_runtime(settings, redis), echo_on(broker, queue_name=queue):
            round_trip(broker, redis, Keys(settings.redis_prefix))
        dead_letter = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": xq_name(queue)}
        for name, arguments in ((queue, dead_letter), (dq_name(queue), dead_letter),
                                (xq_name(queue), {"x-message-ttl": DEAD_MESSAGE_TTL})):
            connection.channel().queue_declare(name, durable=True, arguments={**arguments, "x-queue-type": "quorum"})
            with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="x-queue-type"):
                connection.channel().queue_declare(name, durable=True, arguments={**arguments, "x-queue-type": "classic"})
    finally:
        channel = connection.channel()
        for name in (queue, dq_name(queue), xq_name(queue)):
            channel.queue_delete(name)
        connection.close()
        broker.close()
