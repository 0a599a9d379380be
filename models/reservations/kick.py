"""When to send drain messages, and the sweep that restarts mailboxes nobody drains."""

from __future__ import annotations

import logging
from typing import Any

from models.commands import commands
from models.keys import Keys
from models.redis import scripts
from models.reservations.lease import DRAIN_FLAG_TTL_MS, STALL_MS
from models.tables import Event

log = logging.getLogger("ticketdrop.reservations")


def drain_if_waiting(redis: Any, keys: Keys, event_id: str) -> None:
    """After holding the event lease for something else (a rebuild): a drain message that
    arrived meanwhile went away (the lease was taken), so send one if requests wait."""
    if redis.llen(keys.mailbox(event_id)):
        commands().send_drain(event_id)


def claim_kick(redis: Any, keys: Keys, event_id: str, *, only_with_mail: bool) -> Any:
    """res_kick.lua: 1 if the caller should send a drain message (sync value or awaitable)."""
    return scripts(redis).get("res_kick")(
        keys=[keys.mailbox(event_id), keys.drain_flag(event_id), keys.event_lease(event_id)],
        args=[DRAIN_FLAG_TTL_MS, STALL_MS, "1" if only_with_mail else "0"],
    )


def kick_stalled_mailboxes(rt: Any) -> int:
    """Send a drain message for every event whose requests wait with nobody draining them (a
    lost message, a worker killed while holding the lease). Sync, idempotent. Returns how many."""
    kicked = 0
    for (event_id,) in Event.select(Event.id).where(Event.status != "draft").tuples():
        if claim_kick(rt.redis, rt.keys, str(event_id), only_with_mail=True):
            commands().send_drain(str(event_id))
            kicked += 1
    if kicked:
        log.warning("stalled reservation mailboxes restarted", extra={"events": kicked})
    return kicked
