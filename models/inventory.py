"""Inventory: what is left to sell, and keeping the Redis gate true to the database.

The database is the truth (``ticket_tiers.sold`` / ``.held``, moved only by conditional
UPDATEs); Redis counters are the fast gate every reservation is decided against, rebuilt from
the database when missing and reconciled by the sweep. The hold lifecycle functions live in
``models.reservations`` and are re-exported here for the checkout and operations code.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from models.catalog.statuses import SELLING_STATUSES
from models.keys import Keys
from models.reservations.counters import database_stock, parse_stock, rebuild_counters, rebuild_locked
from models.reservations.holds import expire_due_holds, release_hold
from models.reservations.kick import drain_if_waiting, kick_stalled_mailboxes
from models.reservations.lease import EventLease
from models.tables import Event
from models.waitlist.nudge import open_to_sale

log = logging.getLogger("ticketdrop.inventory")

__all__ = [
    "Availability", "availability", "expire_due_holds",
    "kick_stalled_mailboxes", "rebuild_counters", "reconcile_all", "reconcile_event", "release_hold",
]


@dataclass(frozen=True)
class Availability:
    event_id: str
    tiers: list[dict[str, Any]]
    #: The Redis counters were missing: figures come from the database; a drain rebuilds them.
    from_database: bool


async def availability(redis: Any, keys: Keys, snapshot: Any, run_blocking: Callable[..., Awaitable[Any]]) -> Availability:
    """Per tier ``{tier_id, name, price_cents, capacity, per_user_limit, remaining}`` where
    remaining = capacity - sold - live holds, as the next reservation decision will see it: 0
    while what is free fits a fan on the tier's waitlist (it is offered to them first)."""
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(keys.stock(snapshot.id))
    pipe.hgetall(keys.waitlist(snapshot.id))
    raw, waiting = await pipe.execute()
    stock = parse_stock(raw)
    from_database = any(t.id not in stock for t in snapshot.tiers)
    if from_database:
        stock = await run_blocking(database_stock, snapshot.id)
    tiers = [{
        "tier_id": t.id, "name": t.name, "price_cents": t.price_cents, "capacity": t.capacity,
        "per_user_limit": t.per_user_limit,
        "remaining": _remaining(t, stock, waiting),
    } for t in snapshot.tiers]
    return Availability(snapshot.id, tiers, from_database)


def _remaining(tier: Any, stock: dict[str, tuple[int, int]], waitlist: dict[str, str]) -> int:
    available = max(0, min(tier.capacity, stock.get(tier.id, (tier.capacity, 0))[0]))
    return available if open_to_sale(waitlist, tier.id, available) else 0


def reconcile_event(redis: Any, keys: Keys, event_id: str) -> dict[str, int] | None:
    """Rebuild one event's counters from the database now, under its lease (sync). Returns what
    was fixed, or None if its drainer holds the lease (it re-reads the tiers after its batch)."""
    lease = EventLease(redis, keys, str(event_id))
    if not lease.acquire():
        return None
    try:
        with lease.kept():
            result = rebuild_locked(redis, keys, str(event_id))
    finally:
        lease.release()
    drain_if_waiting(redis, keys, str(event_id))
    return result


def reconcile_all(rt: Any) -> dict[str, int]:
    """Rebuild the counters of every scheduled or on-sale event from the database (sync).

    Each event is rebuilt under its lease; an event whose drainer holds the lease is skipped
    (the drainer re-reads its tiers from the database after every batch). Returns what was
    fixed: ``{"drift": stock fields that were wrong, "undecided": lost decisions redone}``.
    """
    fixed = {"drift": 0, "undecided": 0}
    events = busy = 0
    for (event_id,) in Event.select(Event.id).where(Event.status.in_(SELLING_STATUSES)).tuples():
        events += 1
        result = reconcile_event(rt.redis, rt.keys, str(event_id))
        if result is None:
            busy += 1
            continue
        for key in fixed:
            fixed[key] += result[key]
    log.log(logging.WARNING if fixed["drift"] else logging.DEBUG, "inventory counters reconciled",
            extra={"events": events, "busy": busy, **fixed})
    return fixed
