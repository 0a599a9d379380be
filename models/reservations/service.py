"""The web tier's reservation service (async Redis): :class:`ReservationService`, built once per
process with its dependencies. Everything a request can be refused for is checked here, at once,
before anything is queued; the decision itself is the drainer's, and this service sends the
drain message a submit makes necessary.

``run_blocking(fn, *args, **kwargs)`` is the caller's way to run blocking database code
(the web tier passes ``functools.partial(web.dbexec.run_db, app)``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from models.catalog.statuses import SELLING_STATUSES
from models.commands import commands, off_loop
from models.errors import (
    Conflict,
    EventNotOnSale,
    EventPaused,
    Forbidden,
    Gone,
    LimitExceeded,
    NotFound,
    Rejected,
    SoldOut,
    TicketDropError,
    Unavailable,
    ValidationFailed,
)
from models.inventory import Availability, availability
from models.keys import Keys
from models.keys import reservation_id as new_reservation_id
from models.reservations.holds import apply_transition, release_in_db
from models.reservations.kick import claim_kick
from models.reservations.queue import Request, enqueue
from models.reservations.records import LIVE_STATUSES, load_record, view
from models.settings import Settings
from models.waiting_room import admission_query, admitted, check_admission
from models.waitlist.nudge import nudge_async

RunBlocking = Callable[..., Awaitable[Any]]
#: ``run_script(script, keys, args)``: sends a Lua script (see models.reservations.queue.enqueue).
RunScript = Callable[[Any, list, list], Awaitable[Any]]


@dataclass(frozen=True)
class Submitted:
    """``created`` False: the user's existing live reservation was returned instead."""

    reservation: dict[str, Any]
    created: bool


def _now_ms() -> int:
    return int(time.time() * 1000)


def check_on_sale(snapshot: Any) -> None:
    """Raises EventPaused / EventNotOnSale (409) unless new reservations are taken."""
    if snapshot.paused:
        raise EventPaused("The sale is paused; try again shortly", event_id=snapshot.id)
    if snapshot.status not in SELLING_STATUSES:
        raise EventNotOnSale(f"The event is {snapshot.status}, not on sale", event_id=snapshot.id, event_status=snapshot.status)
    if snapshot.on_sale_ms > _now_ms():
        raise EventNotOnSale("The sale has not opened yet", event_id=snapshot.id, on_sale_at=snapshot.on_sale_at)


async def submit(redis: Any, keys: Keys, settings: Settings, snapshot: Any, *, reservation_id: str, user_id: str,
                 tier_id: str, quantity: int, token: str, request_id: str | None, run_blocking: RunBlocking,
                 run_script: RunScript | None = None) -> Submitted:
    """Check a reservation request and queue it for its event's drainer (``run_script``: how the
    queueing script is sent, see models.reservations.queue.enqueue).

    Raises NotFound (unknown tier), EventPaused/EventNotOnSale (409), Forbidden (token unknown,
    of another event or user, not admitted, admission expired), ValidationFailed (quantity over
    the tier's per-user limit), LimitExceeded (the per-event cap). Returns Submitted: the new
    pending reservation, or the user's existing live one. Sends the drain message when the
    event needs one (blocking send, off the loop).
    """
    tier = snapshot.tier(tier_id)
    if tier is None:
        raise NotFound(f"No tier {tier_id} in event {snapshot.id}", field="tier_id")
    check_on_sale(snapshot)
    query = admission_query(keys, settings, str(snapshot.id), token, user_id)
    if quantity > tier.per_user_limit:
        await check_admission(redis, keys, settings, snapshot, token, user_id)  # its refusals come first
        raise ValidationFailed(f"quantity must be between 1 and {tier.per_user_limit} for this tier", field="quantity",
                               per_user_limit=tier.per_user_limit)
    request = Request(reservation_id, snapshot.id, tier_id, user_id, quantity, token, request_id)
    replace = ""
    for _ in range(3):
        # One round trip: res_enqueue.lua judges the admission (recording its position) and queues.
        kind, value, *verdict = await enqueue(redis, keys, settings.event_purchase_limit, request, replace=replace,
                                              admission=query, run_script=run_script)
        if kind == "admission":
            admitted(value, *verdict, query.window_ms)  # raises the refusal
        if kind == "accepted":  # the drainer marks the admission used (one round trip per batch)
            record = {"id": reservation_id, "event_id": snapshot.id, "tier_id": tier_id, "quantity": str(quantity),
                      "status": "pending"}
            if value == 1:  # this request set the event's drain flag: the drainer needs a message
                await off_loop(commands().send_drain, snapshot.id)
            return Submitted(view(record), created=True)
        if kind == "limit":
            limit = settings.event_purchase_limit
            raise LimitExceeded(f"{value} of your {limit} tickets for this event are held or bought; {quantity} more "
                                f"would pass the limit", limit=limit, counted=int(value))
        existing = await _live_record(redis, keys, value, run_blocking)
        if existing is None:
            replace = value  # the slot points at a reservation that ended: take it over
            continue
        return Submitted(existing, created=False)
    raise Unavailable("Your previous reservation is changing state; try again", retry_after=1)


async def _live_record(redis: Any, keys: Keys, rid: str, run_blocking: RunBlocking) -> dict[str, Any] | None:
    """The view of reservation ``rid`` if it is still live, else None. A hold past its expiry
    that the sweep has not reached is expired here and now, so the user may reserve again."""
    record = await redis.hgetall(keys.reservation(rid)) or await run_blocking(load_record, rid)
    if not record or record.get("status") not in LIVE_STATUSES:
        return None
    current = view(record, _now_ms())
    if current["status"] == "expired":
        await _end_hold(redis, keys, rid, "expired", "hold_expired", run_blocking)
        return None
    return current


async def _end_hold(redis: Any, keys: Keys, rid: str, to_status: str, reason: str, run_blocking: RunBlocking,
                    *, unless_paying: bool = False) -> bool:
    ended = await run_blocking(release_in_db, rid, to_status=to_status, reason=reason, unless_paying=unless_paying)
    if ended is not None:
        await apply_transition(redis, keys, ended)
        await nudge_async(redis, keys, ended.event_id, ended.tier_id)
    return ended is not None


async def get_reservation(redis: Any, keys: Keys, reservation_id: str, user_id: str, run_blocking: RunBlocking) -> dict:
    """The reservation's document for its owner. Raises NotFound, Forbidden (another user's)."""
    record = await _owned_record(redis, keys, reservation_id, user_id, run_blocking)
    return view(record, _now_ms())


async def submitted_outcome(redis: Any, keys: Keys, reservation_id: str, user_id: str,
                            run_blocking: RunBlocking) -> dict:
    """The document of a reservation this request just submitted. Raises Unavailable (503,
    retry) if it is nowhere: Redis lost the pending request before the drainer decided it,
    so nothing was held and sending the request again is safe."""
    try:
        return await get_reservation(redis, keys, reservation_id, user_id, run_blocking)
    except NotFound:
        raise Unavailable("Your request was lost in a fault before it was decided; nothing is held, send it again",
                          retry_after=1, reason="request_lost") from None


async def cancel(redis: Any, keys: Keys, reservation_id: str, user_id: str, run_blocking: RunBlocking) -> dict:
    """Release the owner's live hold at once; releasing it again answers the same document.

    Raises NotFound, Forbidden (another user's), Conflict (still pending, rejected, converted,
    or its payment is being processed), Gone (the hold expired). Returns the released reservation.
    """
    record = await _owned_record(redis, keys, reservation_id, user_id, run_blocking)
    current = view(record, _now_ms())
    if current["status"] == "held":
        if await _end_hold(redis, keys, reservation_id, "released", "released_by_user", run_blocking, unless_paying=True):
            return {**current, "status": "released", "reason": "released_by_user"}
        record = await _owned_record(redis, keys, reservation_id, user_id, run_blocking)
        current = view(record, _now_ms())
    if current["status"] == "released":
        return current
    if current["status"] == "expired":
        if record.get("status") == "held":  # due but not swept: return its tickets now
            await _end_hold(redis, keys, reservation_id, "expired", "hold_expired", run_blocking)
        raise Gone("The hold has expired", reservation=current)
    if current["status"] == "pending":
        raise Conflict("The reservation is not decided yet; try again in a moment", retry_after=1, reservation=current)
    raise Conflict(f"A {current['status']} reservation cannot be released", reservation=current)


async def _owned_record(redis: Any, keys: Keys, rid: str, user_id: str, run_blocking: RunBlocking) -> dict[str, str]:
    record = await redis.hgetall(keys.reservation(rid))
    if not record or record.get("status") == "pending" and not record.get("user_id"):
        record = await run_blocking(load_record, rid) or record
    if not record:
        raise NotFound(f"No reservation {rid}", field="id")
    if record.get("user_id") != user_id:
        raise Forbidden("This reservation belongs to another user", field="user")
    return record


#: Rejection reason -> the problem it is rendered as (409 either way; others: Rejected, coded by reason).
_REJECTIONS: dict[str, type[TicketDropError]] = {
    "sold_out": SoldOut, "limit_exceeded": LimitExceeded, "event_not_on_sale": EventNotOnSale}


def reservation_location(rid: str) -> str:
    return f"/reservations/{rid}"


def rejection(reservation: dict[str, Any]) -> TicketDropError:
    """The error a rejected reservation is answered with (409, coded by its reason)."""
    reason = reservation.get("reason") or "rejected"
    kind = _REJECTIONS.get(reason, Rejected)
    return kind(f"The reservation was rejected: {reason.replace('_', ' ')}",
                headers={"Location": reservation_location(reservation["id"])},
                id=reservation["id"], reason=reason, reservation=reservation)


#: ``waiter(reservation_id)``: an async context manager, registered before the submit, whose
#: ``wait(seconds)`` returns the published outcome or None (the web tier's outcome hub).
Waiter = Callable[[str], Any]


class ReservationService:
    """Reservations for the web tier: availability, submit (and wait for the decision), read, cancel."""

    def __init__(self, *, redis: Any, keys: Keys, settings: Settings, run_blocking: RunBlocking,
                 run_script: RunScript | None = None) -> None:
        """``run_script``: how to send the queueing script (the web process's CommandBatcher;
        None: with redis-py)."""
        self.redis, self.keys, self.settings = redis, keys, settings
        self.run_blocking, self.run_script = run_blocking, run_script

    async def availability(self, snapshot: Any) -> Availability:
        """Tickets left per tier; read from the database when Redis lacks the counters, and then
        a drain message is sent (once per stall) so the drainer rebuilds them."""
        result = await availability(self.redis, self.keys, snapshot, self.run_blocking)
        if result.from_database and await claim_kick(self.redis, self.keys, snapshot.id, only_with_mail=False):
            await off_loop(commands().send_drain, snapshot.id)
        return result

    async def submit(self, snapshot: Any, *, user_id: str, tier_id: str, quantity: int, token: str,
                     request_id: str | None, waiter: Waiter | None = None, wait_s: float = 0) -> Submitted:
        """Check and queue a reservation request (see :func:`submit`). With ``waiter`` and
        ``wait_s``, wait up to ``wait_s`` for the drainer's decision: the returned reservation is
        then the decided one (held, rejected, or still pending). Raises what :func:`submit` and
        :func:`submitted_outcome` raise."""
        rid = new_reservation_id(snapshot.id)  # carries the event's Redis Cluster slot (models/keys.py)
        run = partial(submit, self.redis, self.keys, self.settings, snapshot, reservation_id=rid, user_id=user_id,
                      tier_id=tier_id, quantity=quantity, token=token, request_id=request_id,
                      run_blocking=self.run_blocking, run_script=self.run_script)
        if waiter is None or not wait_s:
            return await run()
        async with waiter(rid) as w:  # registered first: an outcome published after the submit is not missed
            submitted = await run()
            if not submitted.created:
                return submitted
            decided = await w.wait(wait_s)
        if decided is None:  # no announcement (timed out, or the listener was reconnecting)
            decided = await submitted_outcome(self.redis, self.keys, rid, user_id, self.run_blocking)
        return Submitted(decided, created=True)

    async def get(self, rid: str, user_id: str) -> dict:
        return await get_reservation(self.redis, self.keys, rid, user_id, self.run_blocking)

    async def cancel(self, rid: str, user_id: str) -> dict:
        return await cancel(self.redis, self.keys, rid, user_id, self.run_blocking)
