"""Rows the tests start from, made directly with Peewee: plain functions, one definition each.

A test module that wants other defaults (a name a test asserts, a price) binds them once with
``functools.partial`` (tests/unit/models/checkout_factories.py does).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from models.tables import Event, TicketTier, utcnow


def make_event(*, name: str = "Drop", venue: str = "Arena", status: str = "on_sale",
               on_sale_at: datetime | None = None, on_sale_in_s: float = -3600.0,
               starts_at: datetime | None = None, starts_in_s: float | None = None, **fields: Any) -> Event:
    """An event on sale since an hour (``on_sale_at``, or ``on_sale_in_s`` from now), starting a
    week after its on-sale (``starts_at``, or ``starts_in_s`` from now); other columns as given."""
    now = utcnow()
    on_sale = on_sale_at or now + timedelta(seconds=on_sale_in_s)
    starts = starts_at or (now + timedelta(seconds=starts_in_s) if starts_in_s is not None else on_sale + timedelta(days=7))
    return Event.create(name=name, venue=venue, status=status, on_sale_at=on_sale, starts_at=starts, **fields)


def make_tier(event: Event | None = None, *, new_event: Callable[[], Event] = make_event, name: str = "Floor",
              price_cents: int = 5000, capacity: int = 100, **fields: Any) -> TicketTier:
    """A tier of ``event`` (a ``new_event()`` if none)."""
    return TicketTier.create(event=event if event is not None else new_event(), name=name, price_cents=price_cents,
                             capacity=capacity, **fields)
