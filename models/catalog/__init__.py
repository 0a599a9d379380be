"""The catalogue: events, their ticket tiers, and the documents built from them.

Services raise domain errors (models/errors.py); field-level rules (lengths, ranges, time
zones) are checked by the request schemas before a service runs, and the bounds live in
:mod:`models.catalog.rules`.
"""

from models.catalog.events import create_event, get_event, list_events, update_event
from models.catalog.render import (
    admin_catalog,
    admin_event,
    admin_event_document,
    admin_tier,
    public_catalog,
    public_event,
    public_event_detail,
    public_event_document,
    public_event_summary,
    public_tier,
)
from models.catalog.tiers import create_tier, get_tier, list_tiers, tiers_by_event, update_tier

__all__ = [
    "admin_catalog", "admin_event", "admin_event_document", "admin_tier", "create_event", "create_tier",
    "get_event", "get_tier", "list_events", "list_tiers", "public_catalog", "public_event",
    "public_event_detail", "public_event_document", "public_event_summary", "public_tier",
    "tiers_by_event", "update_event", "update_tier",
]
