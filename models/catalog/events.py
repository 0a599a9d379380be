"""Event services: create, change (PATCH semantics with the status lifecycle), read."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from models.catalog.rules import DEFAULT_TIMEZONE, check_transition, is_time_zone
from models.catalog.statuses import INITIAL_STATUSES
from models.errors import Conflict, NotFound, ValidationFailed
from models.sql import write_transaction
from models.tables import Event, utcnow

#: Fields an admin may change with PATCH.
EDITABLE = frozenset({"name", "venue", "description", "starts_at", "on_sale_at", "status", "wave_size", "wave_interval_s", "timezone",
                      "self_cancel_window_s",
                      "ticket_mode"})

#: A PATCH that loses the race against another change of the same event is re-applied this often.
_UPDATE_ATTEMPTS = 3


def _check_times(on_sale_at: datetime, starts_at: datetime, *, field: str) -> None:
    if not on_sale_at < starts_at:
        raise ValidationFailed(
            f"on_sale_at ({on_sale_at.isoformat()}) must be before starts_at ({starts_at.isoformat()})", field=field
        )


def _check_time_zone(name: str) -> None:
    if not is_time_zone(name):
        raise ValidationFailed(f"Unknown time zone {name!r}: give an IANA name such as America/Los_Angeles", field="timezone")


def create_event(
    *,
    name: str,
    venue: str,
    starts_at: datetime,
    on_sale_at: datetime,
    description: str = "",
    status: str = "draft",
    wave_size: int | None = None,
    wave_interval_s: float | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    self_cancel_window_s: int | None = None,
    ticket_mode: str = "both",
) -> Event:
    """Create an event. Raises ValidationFailed (422) if on_sale_at is not before starts_at, the
    status is not an initial one (draft, scheduled, on_sale) or the time zone is not an IANA
    name. Returns the saved Event."""
    _check_times(on_sale_at, starts_at, field="on_sale_at")
    _check_time_zone(timezone)
    if status not in INITIAL_STATUSES:
        raise ValidationFailed(f"An event is created as one of {', '.join(INITIAL_STATUSES)}, not {status}", field="status")
    return Event.create(
        name=name, venue=venue, description=description, starts_at=starts_at, on_sale_at=on_sale_at,
        status=status, wave_size=wave_size, wave_interval_s=wave_interval_s, timezone=timezone,
        self_cancel_window_s=self_cancel_window_s,
        ticket_mode=ticket_mode,
    )


def get_event(event_id: uuid.UUID | str, *, public: bool) -> Event:
    """The event; raises NotFound (404, field path.id) for unknown ids, and for drafts when ``public``."""
    event = Event.get_or_none(Event.id == event_id)
    if event is None or (public and event.status == "draft"):
        raise NotFound(f"No event {event_id}", field="id")
    return event


def list_events(*, public: bool) -> list[Event]:
    """Events by start time then name; ``public`` leaves drafts out."""
    query = Event.select().order_by(Event.starts_at, Event.name, Event.id)
    if public:
        query = query.where(Event.status != "draft")
    return list(query)


def _changed(event: Event, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The columns that really change, after checking the status move and the time order."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")  # a caller bug: the schema forbids them
    diff = {k: v for k, v in changes.items() if getattr(event, k) != v}
    if "timezone" in diff:
        _check_time_zone(diff["timezone"])
    if "status" in diff:
        check_transition(event.status, diff["status"])
    if "on_sale_at" in diff or "starts_at" in diff:
        field = "on_sale_at" if "on_sale_at" in changes else "starts_at"
        _check_times(diff.get("on_sale_at", event.on_sale_at), diff.get("starts_at", event.starts_at), field=field)
    return diff


def update_event(event_id: uuid.UUID | str, changes: Mapping[str, Any]) -> Event:
    """Apply ``changes`` (any subset of EDITABLE). Raises NotFound (404), IllegalTransition (409)
    for a forbidden status move, ValidationFailed (422) if on_sale_at would not precede starts_at
    (checked against the stored value of the one not sent) or the time zone is unknown. Returns the updated Event; an
    empty or no-op change returns it untouched."""
    for _ in range(_UPDATE_ATTEMPTS):
        with write_transaction():  # reads, then writes: SQLite must take its write lock first
            event = get_event(event_id, public=False)
            diff = _changed(event, changes)
            if not diff:
                return event
            # Optimistic: the row must still be what the checks saw (a concurrent status move
            # or time change makes this match nothing, and we check again on fresh data).
            rows = (
                Event.update(**diff, updated_at=utcnow())
                .where(
                    (Event.id == event.id) & (Event.status == event.status)
                    & (Event.on_sale_at == event.on_sale_at) & (Event.starts_at == event.starts_at)
                )
                .execute()
            )
            if rows:
                return get_event(event.id, public=False)
    raise Conflict("The event kept changing while this change was applied; retry", field="id")
