"""A per-event Redis lease, so one scheduler step runs at a time for an event even when two
scheduler processes tick at once (APScheduler itself does not coordinate processes)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from models.redis import scripts

#: How long a lease lasts unless extended, in milliseconds.
LEASE_TTL_MS = 30_000


class Lease:
    """Held while ``held`` is True; ``extend()`` pushes the expiry back during long steps."""

    def __init__(self, redis: Any, key: str, ttl_ms: int = LEASE_TTL_MS) -> None:
        self._redis = redis
        self._key = key
        self._ttl_ms = ttl_ms
        self._nonce = secrets.token_hex(16)
        self.held = False

    @property
    def key(self) -> str:
        return self._key

    @property
    def nonce(self) -> str:
        """The holder's identity in the lease key (scripts compare it before acting)."""
        return self._nonce

    def acquire(self) -> bool:
        self.held = bool(self._redis.set(self._key, self._nonce, nx=True, px=self._ttl_ms))
        return self.held

    def extend(self) -> None:
        """Push the expiry back; raises LeaseLost if another process took the lease meanwhile."""
        if not scripts(self._redis).get("room_lease")(keys=[self._key], args=[self._nonce, self._ttl_ms]):
            self.held = False
            raise LeaseLost(self._key)

    def release(self) -> None:
        if self.held:
            scripts(self._redis).get("room_lease")(keys=[self._key], args=[self._nonce, 0])
            self.held = False


class LeaseLost(Exception):
    """The lease expired under a long step and someone else holds it now; stop the step."""


@contextmanager
def leased(redis: Any, key: str, ttl_ms: int = LEASE_TTL_MS) -> Iterator[Lease | None]:
    """``with leased(r, key) as lease:`` yields the Lease, or None if someone else holds it."""
    lease = Lease(redis, key, ttl_ms)
    if not lease.acquire():
        yield None
        return
    try:
        yield lease
    finally:
        lease.release()
