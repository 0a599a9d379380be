"""The per-event lease: at most one process decides an event's requests at a time.

Dramatiq does not order messages by key, so order is ours: requests of an event wait in its
mailbox (a Redis list) and only the lease holder takes them, oldest first. A lease lapses on
its own if its holder dies; everything the holder did is idempotent, so a successor that takes
over mid-batch grants nothing twice.

The lease is short and kept alive by a thread of its holder (:class:`LeaseKeeper`), so a
holder killed with SIGKILL (a worker restart, the OOM killer) blocks its event for at most
LEASE_TTL_MS, however long a live holder's batch takes. It used to live 5 s, renewed after each
batch: every killed drainer stopped its event's decisions for up to 5 s, and with workers
killed every few seconds on a busy machine the requests waited longer than fans do.

Not a redis-py ``Lock``: res_commit.lua checks the token itself (and tells a holder that lost the
lease), and res_finish.lua/res_lease_release.lua give the lease up in the same step that
checks the mailbox and clears the drain flag; a Lock's own release touches only its key, so it
could not do that atomically. res_decide.lua does not check it: a holder whose lease lapsed (or
was flushed away) may still decide the batch it read next to its successor, which grants nothing
twice (deciding is idempotent, the database writes each row once).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, Protocol

from models.keys import Keys
from models.redis import scripts

log = logging.getLogger("ticketdrop.reservations")

#: Lease lifetime in milliseconds, renewed every LEASE_TTL_MS / 3 by the holder's keeper thread
#: (and after every batch). A dead holder's event waits at most this long (plus STALL_MS) before
#: another worker takes it over.
LEASE_TTL_MS = 2_000
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
        """Take the lease, retrying for up to ``wait_s`` seconds; True when it is ours. Hold it
        inside ``with lease.kept():`` for anything longer than one short call."""
        deadline = time.monotonic() + wait_s
        while True:
            if self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(SPIN_SLEEP_S)

    def renew(self) -> bool:
        """Push the expiry back to ``ttl_ms`` from now if the lease is still ours."""
        return bool(scripts(self.redis).get("room_lease")(keys=[self.key], args=[self.token, self.ttl_ms]))

    def kept(self) -> LeaseKeeper:
        """A context in which a thread renews the lease every ``ttl_ms / 3`` (see LeaseKeeper)."""
        return LeaseKeeper(self)

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


class Renewable(Protocol):
    """What a :class:`LeaseKeeper` keeps alive: an EventLease, or the checkout settle flag."""

    event_id: str
    ttl_ms: int

    def renew(self) -> bool: ...


class LeaseKeeper:
    """Renews an acquired lease from a daemon thread while its holder works: ``with
    lease.kept(): ...``. The keeper stops when the block ends or when the lease turns out to be
    released or someone else's (the holder finds out at its next commit); while Redis cannot be
    reached it keeps trying, and the lease lapses meanwhile, as it must when nobody can renew it."""

    def __init__(self, lease: Renewable) -> None:
        self.lease = lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-keeper-{lease.event_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        every_s = self.lease.ttl_ms / 3000
        while not self._stop.wait(every_s):
            try:
                if not self.lease.renew():
                    return  # released, or taken over after a lapse: the holder learns it at its commit
            except Exception:  # noqa: BLE001 - Redis unreachable: keep trying; the lease lapses meanwhile
                log.warning("could not renew a lease", extra={"event_id": self.lease.event_id})
