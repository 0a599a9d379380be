"""What a fan's status poll says: a pure function of the event, the room view, the fan's
stored position and the clock (so every rule here is tested without Redis or HTTP)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Protocol

from models.waiting_room import eta
from models.waiting_room.room import RoomView

#: Event statuses in which nothing will be sold any more.
FINISHED = frozenset({"closed", "canceled"})


class EventLike(Protocol):
    """What status needs of an event (web.snapshots.EventSnapshot has it)."""

    status: str
    on_sale_at: datetime
    paused: bool
    wave_size: int
    wave_interval_s: float


def on_sale_ms(event: EventLike) -> int:
    cached = getattr(event, "on_sale_ms", None)  # web.snapshots.EventSnapshot computes it once
    return cached if isinstance(cached, int) else int(event.on_sale_at.timestamp() * 1000)


def room_state(event: EventLike, view: RoomView, now_ms: int) -> str:
    """closed | sold_out | waiting (before on-sale) | paused | sale_open."""
    if event.status in FINISHED:
        return "closed"
    if view.stock.sold_out:
        return "sold_out"
    if now_ms < on_sale_ms(event):
        return "waiting"
    if event.paused:
        return "paused"
    return "sale_open"


def admission_of(position: int, view: RoomView, now_ms: int, admission_ttl_s: int) -> tuple[str, int | None]:
    """("queued" | "admitted" | "expired", admission expiry in ms or None) for a position (0 = not drawn)."""
    if position < 1 or position > view.counters.up_to:
        return "queued", None
    wave = view.wave_of(position)
    if wave is None:  # admitted by a wave this view has not read yet: treat as just admitted
        return "admitted", now_ms + admission_ttl_s * 1000
    expires = wave.admitted_at_ms + admission_ttl_s * 1000
    return ("admitted" if now_ms < expires else "expired"), expires


def _iso(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def describe(event: EventLike, view: RoomView, position: int, now_ms: int, admission_ttl_s: int) -> dict[str, Any]:
    """The status document for a fan whose stored position is ``position`` (0 = pre-queue, not drawn)."""
    sale_ms = on_sale_ms(event)
    state = room_state(event, view, now_ms)
    admission, expires_ms = admission_of(position, view, now_ms, admission_ttl_s)
    known = position >= 1
    up_to = view.counters.up_to
    eta_s: int | None = None
    if admission == "admitted":
        eta_s = 0
    elif admission == "queued" and known and state in ("waiting", "sale_open"):
        pace = view.pace(event.wave_size, event.wave_interval_s)
        eta_s = eta.eta_seconds(position, up_to, pace, now_ms, eta.next_wave_ms(view.last_wave, pace, sale_ms))
    return {
        "state": state,
        "onSaleAt": event.on_sale_at,
        "secondsUntilOnSale": max(0, math.ceil((sale_ms - now_ms) / 1000)),
        "position": position if known else None,
        # The room view is cached for a moment; a fan who just joined is never beyond the total.
        "total": max(view.counters.total, position if known else 0),
        "aheadOfYou": max(0, position - up_to - 1) if known else None,
        "canEnter": state == "sale_open" and admission == "admitted",
        "etaSeconds": eta_s,
        "admission": admission,
        "admissionExpiresAt": _iso(expires_ms),
    }
