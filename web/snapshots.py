"""Per-process cache of event and tier metadata for the hot paths (status, reserve, availability).

Entries live ``SNAPSHOT_TTL_S``; admin changes call :func:`invalidate` in their own process and
reach the others within that time. Concurrent misses for one event share a single load.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from aiohttp import web

from models.errors import NotFound
from web.appkeys import SERVICES, SETTINGS
from web.dbexec import run_db

#: How long a snapshot is trusted, in seconds.
SNAPSHOT_TTL_S = 1.0


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
    tiers: tuple[TierSnapshot, ...]

    @property
    def is_public(self) -> bool:
        return self.status != "draft"

    @cached_property
    def on_sale_ms(self) -> int:
        # Read on every status poll; datetime.timestamp() is not free, the snapshot lives ~1 s.
        return int(self.on_sale_at.timestamp() * 1000)

    def tier(self, tier_id: str) -> TierSnapshot | None:
        for t in self.tiers:
            if t.id == tier_id:
                return t
        return None


def load_snapshot(event_id: str, default_wave_size: int, default_wave_interval_s: float) -> EventSnapshot | None:
    """Read one event and its tiers from the database (blocking)."""
    from models.tables import Event, TicketTier

    event = Event.get_or_none(Event.id == event_id)
    if event is None:
        return None
    tiers = TicketTier.select().where(TicketTier.event == event_id).order_by(TicketTier.price_cents, TicketTier.name)
    return EventSnapshot(
        id=str(event.id), name=event.name, venue=event.venue, status=event.status,
        on_sale_at=event.on_sale_at, starts_at=event.starts_at, paused=bool(event.paused),
        wave_size=event.wave_size or default_wave_size,
        wave_interval_s=event.wave_interval_s or default_wave_interval_s,
        tiers=tuple(TierSnapshot(str(t.id), t.name, t.price_cents, t.capacity, t.per_user_limit) for t in tiers),
    )


def _cache(app: web.Application) -> dict:
    return app[SERVICES].setdefault("snapshots", {})


async def event_snapshot(app: web.Application, event_id: str | uuid.UUID, *, public: bool = False) -> EventSnapshot:
    """The event's snapshot; raises NotFound for unknown ids (and drafts when ``public``)."""
    key = str(event_id)
    cache = _cache(app)
    entry = cache.get(key)
    now = time.monotonic()
    if entry is not None and entry[0] > now:
        snap = entry[1] if not isinstance(entry[1], asyncio.Future) else await asyncio.shield(entry[1])
    else:
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        cache[key] = (now + SNAPSHOT_TTL_S, future)
        settings = app[SETTINGS]
        try:
            snap = await run_db(app, load_snapshot, key, settings.wave_size, settings.wave_interval_s)
        except BaseException as exc:
            cache.pop(key, None)
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        future.set_result(snap)
        cache[key] = (time.monotonic() + SNAPSHOT_TTL_S, snap)
    if snap is None or (public and not snap.is_public):
        raise NotFound(f"No event {key}", field="path.id")
    return snap


def invalidate(app: web.Application, event_id: str | uuid.UUID) -> None:
    """Forget the cached snapshot (after an admin change in this process)."""
    _cache(app).pop(str(event_id), None)
