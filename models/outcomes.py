"""Workers announce decided commands (reservations, checkouts) on one pub/sub channel, so a
web process holding a ``Prefer: wait`` request can answer without polling.

On a Redis Cluster the channel is a sharded one (SPUBLISH/SSUBSCRIBE, Redis 7): a message
travels only within the shard owning the channel's slot, instead of over the whole cluster
bus to every node. One announcement per decided command is a small load for one shard.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from models.keys import Keys
from models.redis import is_cluster


def encode(subject_id: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps({"id": subject_id, **payload}, default=str)


def publish(redis: Any, keys: Keys, subject_id: str, payload: dict[str, Any]) -> None:
    """Announce one outcome (best effort: pollers read the stored state anyway)."""
    channel, message = keys.outcomes_channel(), encode(subject_id, payload)
    redis.spublish(channel, message) if is_cluster(redis) else redis.publish(channel, message)


def queue_publish(pipe: Any, redis: Any, keys: Keys, subject_id: str, payload: dict[str, Any]) -> None:
    """Add one announcement to ``pipe``, a pipeline of ``redis`` (a Redis Cluster's pipeline
    refuses its publish method: the command goes in as SPUBLISH there)."""
    pipe.execute_command("SPUBLISH" if is_cluster(redis) else "PUBLISH", keys.outcomes_channel(),
                         encode(subject_id, payload))


def publish_many(redis: Any, keys: Keys, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Announce several outcomes in one round trip."""
    pipe = redis.pipeline(transaction=False)
    for subject_id, payload in items:
        queue_publish(pipe, redis, keys, subject_id, payload)
    pipe.execute()
