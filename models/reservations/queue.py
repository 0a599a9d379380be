"""Putting a request in its event's mailbox (res_enqueue.lua), for sync and async clients."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models.keys import Keys
from models.redis import scripts
from models.reservations.lease import DRAIN_FLAG_TTL_MS, STALL_MS
from models.waiting_room.admission import AdmissionQuery


@dataclass(frozen=True)
class Request:
    """One reservation request, checked against the catalogue (the waiting room is judged in
    res_enqueue.lua when :func:`enqueue` is given an AdmissionQuery)."""

    id: str
    event_id: str
    tier_id: str
    user_id: str
    quantity: int
    token: str = ""
    request_id: str | None = None
    #: The fan's waiting-room position; the drainer marks that admission used.
    position: int | None = None


def enqueue(redis: Any, keys: Keys, purchase_limit: int, request: Request, *, replace: str = "",
            admission: AdmissionQuery | None = None, run_script: Callable[[Any, list, list], Any] | None = None) -> Any:
    """Run res_enqueue.lua: ``[kind, value, ...]`` (sync client) or an awaitable of it (async).

    kind "accepted" (value 1 = send a drain message), "existing" (value = the user's live
    reservation id; ``replace`` it on the next call if it turns out to have ended), "limit"
    (value = tickets the user already holds or bought). With ``admission`` the fan's admission
    is judged first, in the same call, and its position recorded: kind "admission" then means
    not admitted, followed by lib_admission.lua's verdict, position, up_to, admitted-at
    (``models.waiting_room.admitted(*reply[1:], window_ms)`` raises the refusal).
    ``run_script(script, keys, args)`` sends it another way (the web tier's CommandBatcher
    pipelines it with the other requests' commands).
    """
    e = request.event_id
    call_keys = [keys.live_reservations(e), keys.user_counts(e), keys.mailbox(e), keys.drain_flag(e),
                 keys.event_lease(e), keys.reservation(request.id)]
    args = [request.user_id, request.id, e, request.tier_id, request.quantity, request.token, purchase_limit,
            int(time.time() * 1000), DRAIN_FLAG_TTL_MS, STALL_MS, request.request_id or "", replace,
            "" if request.position is None else request.position]
    if admission is not None:
        call_keys += admission.keys
        args += [admission.field, admission.window_ms]
    script = scripts(redis).get("res_enqueue")
    return run_script(script, call_keys, args) if run_script else script(keys=call_keys, args=args)
