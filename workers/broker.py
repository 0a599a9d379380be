"""The Dramatiq broker, chosen by BROKER_URL. Built by the entry points (``workers.entry``), never at
import: importing workers/ sets no global broker.

- ``redis://``, ``rediss://``, ``unix://``: RedisBroker (namespaced under REDIS_PREFIX)
- ``amqp://``, ``amqps://``: RabbitmqBroker (quorum queues with BROKER_QUORUM_QUEUES=true)
- ``stub://``: StubBroker (unit tests)

Queue names start with QUEUE_PREFIX (``workers.actors.declare_actors``), so deployments sharing a
RabbitMQ vhost keep their messages apart.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from models.settings import Settings
from workers import middleware


def build_broker(settings: Settings) -> dramatiq.Broker:
    url = settings.broker_url
    scheme = url.split(":", 1)[0].lower()
    if scheme == "stub":
        broker: dramatiq.Broker = StubBroker()
        broker.emit_after("process_boot")
    elif scheme in {"amqp", "amqps"}:
        # Imported here, not for a cycle: only the broker BROKER_URL names is loaded (pika is optional).
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        if settings.broker_quorum_queues:
            broker = _quorum_broker_class()(url=url, confirm_delivery=True)
        else:
            broker = RabbitmqBroker(url=url, confirm_delivery=True)
    else:
        from dramatiq.brokers.redis import RedisBroker  # likewise: only with a Redis BROKER_URL

        broker = RedisBroker(url=url, namespace=f"{settings.redis_prefix}dramatiq")
    _add_middleware(broker, settings)
    return broker


def _quorum_broker_class() -> type:
    """A RabbitmqBroker declaring quorum queues (BROKER_QUORUM_QUEUES=true): RabbitMQ fixes a
    queue's type when it is declared, and Dramatiq declares its own queues, with no type."""
    from dramatiq.brokers.rabbitmq import RabbitmqBroker  # pika, only with BROKER_QUORUM_QUEUES=true

    class QuorumRabbitmqBroker(RabbitmqBroker):
        def _build_queue_arguments(self, queue_name: str) -> dict[str, Any]:  # the work and delay queues
            return {**super()._build_queue_arguments(queue_name), "x-queue-type": "quorum"}

        def _declare_xq_queue(self, queue_name: str) -> Any:  # the dead-letter queue
            from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL  # pika, as above
            from dramatiq.common import xq_name

            return self.channel.queue_declare(queue=xq_name(queue_name), durable=True, arguments={
                "x-message-ttl": DEAD_MESSAGE_TTL, "x-queue-type": "quorum"})

    return QuorumRabbitmqBroker


def queue(settings: Settings, name: str) -> str:
    """This deployment's name for queue ``name`` (QUEUE_PREFIX + name)."""
    return settings.queue_prefix + name


def _add_middleware(broker: dramatiq.Broker, settings: Settings) -> None:
    for m in middleware.extra_middleware(settings):
        broker.add_middleware(m)


def ping_broker(broker: Any) -> None:
    """Raise if the broker's server cannot be reached."""
    if isinstance(broker, StubBroker):
        return
    client = getattr(broker, "client", None)
    if client is not None:  # RedisBroker
        client.ping()
        return
    connection = broker.connection  # RabbitmqBroker: opens (or reuses) this thread's connection
    if not connection.is_open:
        raise ConnectionError("RabbitMQ connection is closed")
