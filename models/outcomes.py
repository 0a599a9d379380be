"""Workers announce decided commands (reservations, checkouts) on one pub/sub channel, so a
web process holding a ``Prefer: wait`` request can answer without polling."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from models.keys import Keys


def encode(subject_id: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps({"id": subject_id, **payload}, default=str)


def publish(redis: Any, keys: Keys, subject_id: str, payload: dict[str, Any]) -> None:
    """Announce one outcome (best effort: pollers read the stored state anyway)."""
    redis.publish(keys.outcomes_channel(), encode(subject_id, payload))


def publish_many(redis: Any, keys: Keys, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Announce several outcomes in one round trip."""
    pipe = redis.pipeline(transaction=False)
    channel = keys.outcomes_channel()
    for subject_id, payload in items:
        pipe.publish(channel, encode(subject_id, payload))
    pipe.execute()
