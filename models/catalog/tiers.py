"""Ticket tier services. ``sold`` and ``held`` are never written here: capacity changes are a
conditional UPDATE so they cannot race below what reservations already took."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from models.catalog.statuses import FINISHED_STATUSES
from models.errors import Conflict, NotFound, ValidationFailed
from models.tables import Event, TicketTier, utcnow

#: Fields an admin may change with PATCH (a tier never moves to another event).
EDITABLE = frozenset({"name", "price_cents", "capacity", "per_user_limit"})

_ORDER = (TicketTier.price_cents, TicketTier.name, TicketTier.id)


def create_tier(*, event_id: uuid.UUID | str, name: str, price_cents: int, capacity: int, per_user_limit: int = 4) -> TicketTier:
    """Add a tier to an event. Raises ValidationFailed (422, field event_id) for an unknown event,
    Conflict (409) if the event is closed or canceled. Returns the saved TicketTier."""
    event = Event.get_or_none(Event.id == event_id)
    if event is None:
        raise ValidationFailed(f"No such event {event_id}", field="event_id")
    if event.status in FINISHED_STATUSES:
        raise Conflict(f"The event is {event.status}: no tiers can be added", field="event_id", event_status=event.status)
    return TicketTier.create(event=event.id, name=name, price_cents=price_cents, capacity=capacity, per_user_limit=per_user_limit)


def get_tier(tier_id: uuid.UUID | str) -> TicketTier:
    """The tier; raises NotFound (404, field path.id)."""
    tier = TicketTier.get_or_none(TicketTier.id == tier_id)
    if tier is None:
        raise NotFound(f"No tier {tier_id}", field="id")
    return tier


def list_tiers(event_id: uuid.UUID | str | None = None) -> list[TicketTier]:
    """Tiers (of one event, or all) by price then name. An unknown event simply has none."""
    query = TicketTier.select().order_by(*_ORDER)
    if event_id is not None:
        query = query.where(TicketTier.event == event_id)
    return list(query)


def tiers_by_event(event_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[TicketTier]]:
    """event id -> its tiers by price then name, in one query."""
    ids = list(event_ids)
    grouped: dict[uuid.UUID, list[TicketTier]] = {i: [] for i in ids}
    if ids:
        for tier in TicketTier.select().where(TicketTier.event.in_(ids)).order_by(*_ORDER):
            grouped[tier.event_id].append(tier)
    return grouped


def update_tier(tier_id: uuid.UUID | str, changes: Mapping[str, Any]) -> TicketTier:
    """Apply ``changes`` (any subset of EDITABLE). Raises NotFound (404), Conflict (409) when the
    new capacity is below sold + held. Returns the updated TicketTier."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")  # a caller bug: the schema forbids them
    if not changes:
        return get_tier(tier_id)
    query = TicketTier.update(**changes, updated_at=utcnow()).where(TicketTier.id == tier_id)
    if "capacity" in changes:
        # Holds are taken by conditional UPDATEs too; this one loses cleanly instead of
        # tripping the sold + held <= capacity CHECK.
        query = query.where((TicketTier.sold + TicketTier.held) <= changes["capacity"])
    if query.execute():
        return get_tier(tier_id)
    tier = get_tier(tier_id)
    raise Conflict(
        f"capacity {changes['capacity']} is below the {tier.sold} sold + {tier.held} held tickets",
        field="capacity", sold=tier.sold, held=tier.held,
    )
