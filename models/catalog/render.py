"""Catalogue documents: what the public and the admin see of events and tiers.

Public documents omit bookkeeping (timestamps, sold, held); admin documents include it.
Timestamps are written by :func:`models.timestamps.iso`; ids are strings.
"""

from __future__ import annotations

import uuid
from typing import Any

from models.catalog.events import get_event, list_events
from models.catalog.tiers import list_tiers, tiers_by_event
from models.tables import Event, TicketTier
from models.timestamps import iso


def public_tier(tier: TicketTier) -> dict[str, Any]:
    return {
        "id": str(tier.id), "event_id": str(tier.event_id), "name": tier.name,
        "price_cents": tier.price_cents, "capacity": tier.capacity, "per_user_limit": tier.per_user_limit,
    }


def admin_tier(tier: TicketTier) -> dict[str, Any]:
    return {
        **public_tier(tier), "sold": tier.sold, "held": tier.held,
        "created_at": iso(tier.created_at), "updated_at": iso(tier.updated_at),
    }


def public_event(event: Event) -> dict[str, Any]:
    """The event alone; ``wave_size``/``wave_interval_s`` are null when the server defaults apply;
    ``timezone`` is the venue's IANA zone (times stay UTC; pages show them in that zone)."""
    return {
        "id": str(event.id), "name": event.name, "venue": event.venue, "description": event.description,
        "starts_at": iso(event.starts_at), "on_sale_at": iso(event.on_sale_at), "timezone": event.timezone,
        "status": event.status,
        "paused": bool(event.paused), "wave_size": event.wave_size, "wave_interval_s": event.wave_interval_s,
        "self_cancel_window_s": event.self_cancel_window_s,
        "ticket_mode": event.ticket_mode,
    }


def public_event_summary(event: Event, tiers: list[TicketTier]) -> dict[str, Any]:
    """List entry: the event with its price range and whether every tier is sold out
    (an event without tiers has null prices and is not sold out)."""
    prices = [t.price_cents for t in tiers]
    return {
        **public_event(event),
        "price_min_cents": min(prices, default=None),
        "price_max_cents": max(prices, default=None),
        "sold_out": bool(tiers) and all(t.sold >= t.capacity for t in tiers),
    }


def public_event_detail(event: Event, tiers: list[TicketTier]) -> dict[str, Any]:
    return {**public_event(event), "tiers": [public_tier(t) for t in tiers]}


def admin_event(event: Event, tiers: list[TicketTier]) -> dict[str, Any]:
    return {
        **public_event(event), "created_at": iso(event.created_at), "updated_at": iso(event.updated_at),
        "tiers": [admin_tier(t) for t in tiers],
    }


# -- whole documents, each read in one database call -------------------------------------

def public_catalog() -> list[dict[str, Any]]:
    """GET /events: every non-draft event with its price range and sold-out flag."""
    events = list_events(public=True)
    tiers = tiers_by_event(e.id for e in events)
    return [public_event_summary(e, tiers[e.id]) for e in events]


def public_event_document(event_id: uuid.UUID) -> dict[str, Any]:
    """GET /events/{id}; raises NotFound for unknown ids and drafts."""
    event = get_event(event_id, public=True)
    return public_event_detail(event, list_tiers(event.id))


def admin_catalog() -> list[dict[str, Any]]:
    """GET /admin/events: every event, drafts included, with tiers and their counters."""
    events = list_events(public=False)
    tiers = tiers_by_event(e.id for e in events)
    return [admin_event(e, tiers[e.id]) for e in events]


def admin_event_document(event: Event | uuid.UUID) -> dict[str, Any]:
    """One event for the admin (an Event, or an id: NotFound if unknown)."""
    if not isinstance(event, Event):
        event = get_event(event, public=False)
    return admin_event(event, list_tiers(event.id))
