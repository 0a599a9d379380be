"""Per-process cache of event and tier metadata for the hot paths (status, reserve, availability).

Entries live ``SNAPSHOT_TTL_S``; admin changes call :func:`invalidate` in their own process and
reach the others within that time. Concurrent misses for one event share a single load.

The cache is bounded in size and time: at most ``SNAPSHOT_CACHE_SIZE`` known events (the
oldest entry goes first) and ``UNKNOWN_CACHE_SIZE`` unknown ids, each remembered only
``UNKNOWN_TTL_S`` (so a flood of random ids cannot grow the process, nor push real events out),
and each client address may look up at most ``RATE_UNKNOWN_EVENT_PER_MIN`` unknown ids a minute
per process (429 with Retry-After beyond; lookups of cached events are never refused).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from aiohttp import web

from models.errors import NotFound, RateLimited
from models.tables import Event, TicketTier
from web.appkeys import SERVICES, SETTINGS
from web.dbexec import run_db
from web.parse import path_uuid
from web.ratelimit import client_address

#: How long a snapshot is trusted, in seconds.
SNAPSHOT_TTL_S = 1.0
#: Most events cached per process (a drop has a handful; the bound is against abuse).
SNAPSHOT_CACHE_SIZE = 1024
#: Most unknown ids remembered per process, and for how long, in seconds.
UNKNOWN_CACHE_SIZE = 1024
UNKNOWN_TTL_S = 1.0
#: Client addresses whose unknown-id lookups are counted per process (the oldest go first).
UNKNOWN_CLIENTS_SIZE = 10_000


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


class SnapshotCache:
    """Known events and unknown ids, each a dict in insertion order bounded by size (the oldest
    entry is evicted) and time (an entry past its deadline is a miss and is replaced)."""

    def __init__(self, size: int | None = None, unknown_size: int | None = None) -> None:
        self.size = size or SNAPSHOT_CACHE_SIZE
        self.unknown_size = unknown_size or UNKNOWN_CACHE_SIZE
        #: event id -> (deadline, EventSnapshot or the Future of its load)
        self.known: dict[str, tuple[float, Any]] = {}
        #: event id -> deadline
        self.unknown: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self.known) + len(self.unknown)

    def put(self, key: str, deadline: float, value: Any) -> None:
        known = self.known
        known.pop(key, None)  # re-inserted at the end: the most recent
        if len(known) >= self.size:
            del known[next(iter(known))]
        known[key] = (deadline, value)

    def put_unknown(self, key: str, deadline: float) -> None:
        unknown = self.unknown
        unknown.pop(key, None)
        if len(unknown) >= self.unknown_size:
            del unknown[next(iter(unknown))]
        unknown[key] = deadline

    def forget(self, key: str) -> None:
        self.known.pop(key, None)
        self.unknown.pop(key, None)


class UnknownIdLimiter:
    """Counts each client address's lookups of unknown ids in one-minute windows (per process,
    in memory: a flood must cost no Redis command either). Bounded: at most ``clients`` addresses."""

    def __init__(self, per_min: int, clients: int = UNKNOWN_CLIENTS_SIZE) -> None:
        self.per_min = per_min
        self._clients = clients
        #: address -> [window start (monotonic s), count]
        self._windows: dict[str, list] = {}

    def check(self, address: str, now: float) -> None:
        """Raise RateLimited if ``address`` spent its budget in the current window."""
        window = self._windows.get(address)
        if window is not None and now - window[0] < 60.0 and window[1] >= self.per_min:
            raise RateLimited("Too many lookups of unknown events from this address; retry later",
                              retry_after=60.0 - (now - window[0]), limits=["unknown_event"])

    def count(self, address: str, now: float) -> None:
        windows = self._windows
        window = windows.get(address)
        if window is None or now - window[0] >= 60.0:
            windows.pop(address, None)
            if len(windows) >= self._clients:
                del windows[next(iter(windows))]
            windows[address] = [now, 1]
        else:
            window[1] += 1

    def __len__(self) -> int:
        return len(self._windows)


def _cache(app: web.Application) -> SnapshotCache:
    services = app[SERVICES]
    cache = services.get("snapshots")
    if cache is None:
        cache = services["snapshots"] = SnapshotCache()
    return cache


def _limiter(app: web.Application) -> UnknownIdLimiter:
    services = app[SERVICES]
    limiter = services.get("unknown_event_limiter")
    if limiter is None:
        limiter = services["unknown_event_limiter"] = UnknownIdLimiter(app[SETTINGS].rate_unknown_event_per_min)
    return limiter


async def event_snapshot(app: web.Application, event_id: str | uuid.UUID, *, public: bool = False,
                         request: web.Request | None = None) -> EventSnapshot:
    """The event's snapshot; raises NotFound for unknown ids (and drafts when ``public``).
    With the ``request``, a client address that looked up too many unknown ids this minute gets
    RateLimited instead of another database read (cached events are served all the same)."""
    key = str(event_id)
    cache = _cache(app)
    now = time.monotonic()
    entry = cache.known.get(key)
    if entry is not None and entry[0] > now:
        snap = entry[1] if not isinstance(entry[1], asyncio.Future) else await asyncio.shield(entry[1])
    else:
        limiter = client = None
        if request is not None and app[SETTINGS].rate_unknown_event_per_min > 0:
            limiter, client = _limiter(app), client_address(request, app[SETTINGS])
        unknown_until = cache.unknown.get(key)
        if unknown_until is not None and unknown_until > now:
            snap = None
        else:
            if limiter is not None:
                limiter.check(client, now)
            snap = await _load(app, cache, key, now)
        if snap is None and limiter is not None:
            limiter.count(client, now)
    if snap is None or (public and not snap.is_public):
        raise NotFound(f"No event {key}", field="path.id")
    return snap


async def _load(app: web.Application, cache: SnapshotCache, key: str, now: float) -> EventSnapshot | None:
    future: asyncio.Future = asyncio.get_running_loop().create_future()
    cache.put(key, now + SNAPSHOT_TTL_S, future)
    settings = app[SETTINGS]
    try:
        snap = await run_db(app, load_snapshot, key, settings.wave_size, settings.wave_interval_s)
    except BaseException as exc:
        cache.forget(key)
        future.set_exception(exc)
        future.exception()  # mark retrieved: waiters re-raise it themselves
        raise
    future.set_result(snap)
    if snap is None:
        cache.known.pop(key, None)
        cache.put_unknown(key, time.monotonic() + UNKNOWN_TTL_S)
    else:
        cache.put(key, time.monotonic() + SNAPSHOT_TTL_S, snap)
    return snap


async def request_event(request: web.Request, *, public: bool = True) -> EventSnapshot:
    """The snapshot of the event named by the request's ``{id}``, unknown-id floods limited by
    the client's address (web.ratelimit.client_address)."""
    # The hot path (every poll): an id spelled as the cache spells it (str(UUID)) is a valid
    # UUID, so a fresh loaded snapshot needs no parsing, no str(UUID) and no await.
    entry = _cache(request.app).known.get(request.match_info.get("id", ""))
    if entry is not None and entry[0] > time.monotonic():
        snap = entry[1]
        if isinstance(snap, EventSnapshot) and (snap.is_public or not public):
            return snap
    return await event_snapshot(request.app, path_uuid(request, "id"), public=public, request=request)


def invalidate(app: web.Application, event_id: str | uuid.UUID) -> None:
    """Forget the cached snapshot (after an admin change in this process)."""
    _cache(app).forget(str(event_id))
