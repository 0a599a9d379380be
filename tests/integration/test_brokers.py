"""The echo actor round trip through real brokers: RedisBroker and RabbitmqBroker, each
built by workers.broker.build_broker from a BROKER_URL, consumed by a real dramatiq Worker."""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager

import dramatiq
import pika
import pytest
from dramatiq import Worker
from dramatiq.common import dq_name, xq_name

from models.keys import Keys
from tests.integration.conftest import CONNECT_TIMEOUT_S, RABBITMQ_URL, REDIS_URL, require
from workers import runtime as rt
from workers import system
from workers.broker import build_broker

pytestmark = pytest.mark.integration

#: How long the round trip may take before the test gives up, in seconds.
ROUND_TRIP_TIMEOUT_S = 15


@contextmanager
def echo_on(broker, *, queue_name: str | None = None):
    """Declare the echo actor on ``broker`` (queue "system", or ``queue_name``)."""
    yield dramatiq.actor(system.echo, broker=broker, queue_name=queue_name or "system", max_retries=0)


@contextmanager
def worker_runtime(settings, redis):
    """The runtime the echo actor writes through: the real Redis under the test's prefix."""
    rt.install(rt.Runtime(settings, redis, Keys(settings.redis_prefix)))
    try:
        yield
    finally:
        rt.install(None)


def round_trip(broker, redis, keys: Keys) -> None:
    worker = Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        nonce = uuid.uuid4().hex
        broker.get_actor("echo").send(nonce)
        deadline = time.monotonic() + ROUND_TRIP_TIMEOUT_S
        while time.monotonic() < deadline and redis.get(keys.health_echo(nonce)) is None:
            time.sleep(0.05)
        assert redis.get(keys.health_echo(nonce)) == "ok"
        assert redis.get(keys.worker_heartbeat()) is not None
    finally:
        worker.stop()


def test_the_echo_actor_round_trips_through_a_real_redis_broker(settings, redis):
    settings = settings.with_(broker_url=REDIS_URL)
    broker = build_broker(settings)
    try:
        with worker_runtime(settings, redis), echo_on(broker):
            round_trip(broker, redis, Keys(settings.redis_prefix))
        # The broker's own keys live under the test's prefix (cleaned up with it).
        assert any(k.startswith(f"{settings.redis_prefix}dramatiq") for k in redis.scan_iter(match=f"{settings.redis_prefix}*"))
    finally:
        broker.close()


def _rabbitmq_ping() -> None:
    params = pika.URLParameters(RABBITMQ_URL)
    params.socket_timeout = params.blocked_connection_timeout = CONNECT_TIMEOUT_S
    pika.BlockingConnection(params).close()


def test_the_echo_actor_round_trips_through_a_real_rabbitmq_broker(settings, redis):
    require("RabbitMQ", _rabbitmq_ping)
    settings = settings.with_(broker_url=RABBITMQ_URL)
    queue = f"td_test_{uuid.uuid4().hex[:10]}"
    broker = build_broker(settings)
    try:
        with worker_runtime(settings, redis), echo_on(broker, queue_name=queue):
            round_trip(broker, redis, Keys(settings.redis_prefix))
    finally:
        for name in (queue, dq_name(queue), xq_name(queue)):
            broker.channel.queue_delete(name)
        broker.close()
