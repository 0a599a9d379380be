"""Putting a request in its event's mailbox (res_enqueue.lua), for sync and async clients."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from models.keys import Keys
from models.redis import scripts
from models.reservations.lease import DRAIN_FLAG_TTL_MS, STALL_MS


@dataclass(frozen=True)
class Request:
    """One reservation request, already checked against the catalogue and the waiting room."""

    id: str
    event_id: str
    tier_id: str
    user_id: str
    quantity: int
    token: str = ""
    request_id: str | None = None
    #: The fan's waiting-room position; the drainer marks that admission used.
    position: int | None = None


def enqueue(redis: Any, keys: Keys, purchase_limit: int, request: Request, *, replace: str = "") -> Any:
    """Run res_enqueue.lua: ``[kind, value]`` (sync client) or an awaitable of it (async).

    kind "accepted" (value 1 = send a drain message), "existing" (value = the user's live
    reservation id; ``replace`` it on the next call if it turns out to have ended), "limit"
    (value = tickets the user already holds or bought).
    """
    e = request.event_id
    return scripts(redis).get("res_enqueue")(
        keys=[keys.live_reservations(e), keys.user_counts(e), keys.mailbox(e), keys.drain_flag(e),
              keys.event_lease(e), keys.reservation(request.id)],
        args=[request.user_id, request.id, e, request.tier_id, request.quantity, request.token, purchase_limit,
              int(time.time() * 1000), DRAIN_FLAG_TTL_MS, STALL_MS, request.request_id or "", replace,
              "" if request.position is None else request.position],
    )
