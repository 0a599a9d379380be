"""The per-event lease: at most one process decides an event's requests at a time.

Dramatiq does not order messages by key, so order is ours: requests of an event wait in its
mailbox (a Redis list) and only the lease holder takes them, oldest first. A lease lapses on
its own if its holder dies; everything the holder did is idempotent, so a successor that takes
over mid-batch grants nothing twice.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from models.keys import Keys
from models.redis import scripts

#: Lease lifetime, renewed after every batch, in milliseconds. A dead drainer's event waits at
#: most this long (plus STALL_MS) before another worker takes it over.
LEASE_TTL_MS = 5_000
#: Lifetime of the drain flag, restamped by every batch, in milliseconds (a backstop: a stale
#: flag is taken over after STALL_MS anyway).
DRAIN_FLAG_TTL_MS = 60_000
#: A flag older than this with no lease holder means its message was lost, in milliseconds.
STALL_MS = 2_000
#: Pause between attempts while waiting for a lease, in seconds.
SPIN_SLEEP_S = 0.005


class EventLease:
    """One attempt to hold ``keys.event_lease(event_id)``, identified by a random token."""

    def __init__(self, redis: Any, keys: Keys, event_id: str, ttl_ms: int = LEASE_TTL_MS) -> None:
        self.redis, self.keys, self.event_id, self.ttl_ms = redis, keys, event_id, ttl_ms
        self.key = keys.event_lease(event_id)
        self.token = uuid.uuid4().hex

    def acquire(self, wait_s: float = 0.0) -> bool:
        """Take the lease, retrying for up to ``wait_s`` seconds; True when it is ours."""
        deadline = time.monotonic() + wait_s
        while True:
            if self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(SPIN_SLEEP_S)

    def remaining_ms(self) -> int:
        """How long the current holder's lease still runs (0 if none)."""
        return max(0, int(self.redis.pttl(self.key)))

    def release(self, *, restamp_flag: bool = False) -> bool:
        """Give the lease up if still ours; ``restamp_flag`` for a hand-over to a new message."""
        flag_ttl = DRAIN_FLAG_TTL_MS if restamp_flag else 0
        return bool(scripts(self.redis).get("res_lease_release")(
            keys=[self.key, self.keys.drain_flag(self.event_id)], args=[self.token, flag_ttl]))

    def finish(self) -> int:
        """Let go of the event if its mailbox is empty: 1 done, 0 requests waiting, -1 lease lost."""
        k = self.keys
        return int(scripts(self.redis).get("res_finish")(
            keys=[k.mailbox(self.event_id), k.drain_flag(self.event_id), self.key], args=[self.token]))
