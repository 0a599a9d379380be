"""A per-event Redis lease, so one scheduler step runs at a time for an event even when two
scheduler processes tick at once (APScheduler itself does not coordinate processes)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from redis.exceptions import LockError

#: How long a lease lasts unless extended, in milliseconds.
LEASE_TTL_MS = 30_000


class Lease:
    """Held while ``held`` is True; ``extend()`` pushes the expiry back during long steps.

    A redis-py ``Lock`` (SET NX PX, extended and released by its token) whose token is our
    ``nonce``: the scripts that must act only for the holder (room_journal_trim.lua) compare
    the lease key's value with it, so the token is ours to pass and the key holds it as text."""

    def __init__(self, redis: Any, key: str, ttl_ms: int = LEASE_TTL_MS) -> None:
        self._key = key
        self._nonce = secrets.token_hex(16)
        self._lock = redis.lock(key, timeout=ttl_ms / 1000, blocking=False, thread_local=False)
        self.held = False

    @property
    def key(self) -> str:
        return self._key

    @property
    def nonce(self) -> str:
        """The holder's identity in the lease key (scripts compare it before acting)."""
        return self._nonce

    def acquire(self) -> bool:
        self.held = bool(self._lock.acquire(token=self._nonce))
        return self.held

    def extend(self) -> None:
        """Push the expiry back; raises LeaseLost if another process took the lease meanwhile."""
        try:
            self._lock.extend(self._lock.timeout, replace_ttl=True)
        except LockError:  # not ours any more (LockNotOwnedError), or never acquired
            self.held = False
            raise LeaseLost(self._key) from None

    def release(self) -> None:
        if self.held:
            self.held = False
            with suppress(LockError):  # expired and taken: nothing of ours to release
                self._lock.release()


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
