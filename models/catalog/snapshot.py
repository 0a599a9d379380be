"""The one read model of an event that the hot paths and the wave tick use: the event's
sale-relevant fields, its effective wave settings, and (for the web tier) its tiers.

Built from a database row by :func:`snapshot_of`; the web tier caches one per event for about
a second (web/snapshots.py), the scheduler reads a list of them once per tick
(models/waiting_room/sales.py), and the waiting room, reservations and the waitlist take one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from models.tables import Event, TicketTier
from models.timestamps import iso


@dataclass(frozen=True)
class TierSnapshot:
    id: str
    name: str
    price_cents: int
    capacity: int
    per_user_limit: int


@dataclass(frozen=True)
class EventSnapshot:
    id: str
    name: str
    venue: str
    status: str
    on_sale_at: datetime
    starts_at: datetime
    paused: bool
    #: Effective wave settings (the event's override or the global default).
    wave_size: int
    wave_interval_s: float
    #: The event's tiers, cheapest first (empty where the reader asked for none: the wave tick).
    tiers: tuple[TierSnapshot, ...] = ()

    @property
    def is_public(self) -> bool:
        return self.status != "draft"

    @cached_property
    def on_sale_ms(self) -> int:
        # Read on every status poll; datetime.timestamp() is not free, the snapshot lives ~1 s.
        return int(self.on_sale_at.timestamp() * 1000)

    @cached_property
    def on_sale_iso(self) -> str:
        """``on_sale_at`` as the API writes it (a join's document carries it as text: orjson
        calls back into Python for a datetime, a third of the document's encoding)."""
        return iso(self.on_sale_at)

    @cached_property
    def starts_at_ms(self) -> int:
        return int(self.starts_at.timestamp() * 1000)

    def tier(self, tier_id: str) -> TierSnapshot | None:
        for t in self.tiers:
            if t.id == tier_id:
                return t
        return None


def snapshot_of(event: Event, default_wave_size: int, default_wave_interval_s: float,
                tiers: Iterable[TicketTier] = ()) -> EventSnapshot:
    """The read model of one ``events`` row (and its tier rows), wave defaults filled in."""
    return EventSnapshot(
        id=str(event.id), name=event.name, venue=event.venue, status=event.status,
        on_sale_at=event.on_sale_at, starts_at=event.starts_at, paused=bool(event.paused),
        wave_size=event.wave_size or default_wave_size,
        wave_interval_s=event.wave_interval_s or default_wave_interval_s,
        tiers=tuple(TierSnapshot(str(t.id), t.name, t.price_cents, t.capacity, t.per_user_limit) for t in tiers),
    )


def load_snapshot(event_id: str, default_wave_size: int, default_wave_interval_s: float) -> EventSnapshot | None:
    """Read one event and its tiers from the database (blocking); None if there is no such event."""
    event = Event.get_or_none(Event.id == event_id)
    if event is None:
        return None
    tiers = TicketTier.select().where(TicketTier.event == event_id).order_by(TicketTier.price_cents, TicketTier.name)
    return snapshot_of(event, default_wave_size, default_wave_interval_s, tiers)
