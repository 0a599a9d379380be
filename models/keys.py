"""Every Redis key name, in one place.

Keys of one event share the hash tag ``{event_id}`` so an event's Lua scripts touch one
cluster slot. ``prefix`` (REDIS_PREFIX) lets tests and deployments share a server.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "td:"

    # -- waiting room (models/waiting_room*) -------------------------------------------
    def room(self, event_id: str) -> str:
        """Hash: the event's queue state (counters, admitted_up_to, flags)."""
        return f"{self.prefix}room:{{{event_id}}}"

    def room_bucket(self, event_id: str, bucket: int) -> str:
        """Small hash (listpack-encoded): token id -> position, one of many buckets."""
        return f"{self.prefix}room:{{{event_id}}}:b:{bucket}"

    def room_waves(self, event_id: str) -> str:
        """Sorted set of admission waves: score last_position, member "first:last:admitted_at_ms:capacity"."""
        return f"{self.prefix}room:{{{event_id}}}:waves"

    def room_hmacs(self, event_id: str) -> str:
        """String: the revealed pre-queue HMACs, 32 raw bytes each, in queue order."""
        return f"{self.prefix}room:{{{event_id}}}:hmacs"

    def room_lease(self, event_id: str) -> str:
        return f"{self.prefix}room:{{{event_id}}}:lease"

    def room_prequeue_buckets(self, event_id: str) -> str:
        """Set of bucket numbers holding pre-queue fans (an intset: at most 32 KB)."""
        return f"{self.prefix}room:{{{event_id}}}:pb"

    def room_journal(self, event_id: str) -> str:
        """List of joins not yet copied to the queue_entries table: "field:position" each."""
        return f"{self.prefix}room:{{{event_id}}}:journal"

    def room_used(self, event_id: str) -> str:
        """Bitmap: bit <position> set once that admitted fan made a reservation."""
        return f"{self.prefix}room:{{{event_id}}}:used"

    # -- inventory and reservations (models/inventory, models/reservations) ------------
    def stock(self, event_id: str) -> str:
        """Hash: tier id -> tickets still available (capacity - sold - held)."""
        return f"{self.prefix}ev:{{{event_id}}}:stock"

    def user_counts(self, event_id: str) -> str:
        """Hash: user id -> tickets in live holds + paid orders (the per-event cap)."""
        return f"{self.prefix}ev:{{{event_id}}}:users"

    def live_reservations(self, event_id: str) -> str:
        """Hash: user id -> id of the user's pending or held reservation."""
        return f"{self.prefix}ev:{{{event_id}}}:live"

    def mailbox(self, event_id: str) -> str:
        """List: reservation requests waiting to be decided, FIFO."""
        return f"{self.prefix}ev:{{{event_id}}}:mailbox"

    def drain_flag(self, event_id: str) -> str:
        """String: set while a drain message is queued or running for the event."""
        return f"{self.prefix}ev:{{{event_id}}}:drain"

    def event_lease(self, event_id: str) -> str:
        """String: the per-event lease of the worker deciding its requests."""
        return f"{self.prefix}ev:{{{event_id}}}:lease"

    def reservation(self, reservation_id: str) -> str:
        """Hash: a reservation's current state, read by the polling endpoint."""
        return f"{self.prefix}res:{reservation_id}"

    def outcomes_channel(self) -> str:
        """Pub/sub channel where workers announce decided reservations and checkouts."""
        return f"{self.prefix}outcomes"

    # -- operations ---------------------------------------------------------------------
    def rate(self, scope: str, subject: str) -> str:
        return f"{self.prefix}rl:{scope}:{subject}"

    def sweep_lease(self, name: str) -> str:
        return f"{self.prefix}sweep:{name}:lease"

    def worker_heartbeat(self) -> str:
        return f"{self.prefix}worker:heartbeat"

    def health_echo(self, nonce: str) -> str:
        return f"{self.prefix}health:echo:{nonce}"

    def stats(self, event_id: str) -> str:
        """Hash: per-event counters for the dashboard (reservations by outcome, orders)."""
        return f"{self.prefix}stats:{{{event_id}}}"

    def stats_series(self, event_id: str) -> str:
        """Sorted set of per-second samples for the dashboard charts."""
        return f"{self.prefix}stats:{{{event_id}}}:series"
