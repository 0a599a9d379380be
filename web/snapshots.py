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

import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from models.catalog.snapshot import EventSnapshot, load_snapshot
from models.errors import NotFound, RateLimited
from models.ttlcache import TTLCache
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


class SnapshotCache:
    """Known events and unknown ids, each bounded by size (the oldest entry is evicted) and
    time (an entry past its deadline is a miss and is replaced)."""

    def __init__(self, size: int | None = None, unknown_size: int | None = None) -> None:
        #: event id -> EventSnapshot (a load in flight is shared by every request that misses)
        self.known: TTLCache[str, EventSnapshot] = TTLCache(SNAPSHOT_TTL_S, size or SNAPSHOT_CACHE_SIZE)
        #: event id -> True while the id is remembered as naming no event
        self.unknown: TTLCache[str, bool] = TTLCache(UNKNOWN_TTL_S, unknown_size or UNKNOWN_CACHE_SIZE)

    def __len__(self) -> int:
        return len(self.known) + len(self.unknown)

    def forget(self, key: str) -> None:
        self.known.forget(key)
        self.unknown.forget(key)


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
    snap = cache.known.fresh(key, now)
    if snap is None and cache.known.is_loading(key):
        snap = await cache.known.load(key, _loader(app, key))  # joins the load in flight
    elif snap is None:
        limiter = client = None
        if request is not None and app[SETTINGS].rate_unknown_event_per_min > 0:
            limiter, client = _limiter(app), client_address(request, app[SETTINGS])
        if not cache.unknown.fresh(key, now):
            if limiter is not None:
                limiter.check(client, now)
            snap = await cache.known.load(key, _loader(app, key))
            if snap is None:
                cache.known.forget(key)
                cache.unknown.put(key, True, UNKNOWN_TTL_S)
        if snap is None and limiter is not None:
            limiter.count(client, now)
    if snap is None or (public and not snap.is_public):
        raise NotFound(f"No event {key}", field="path.id")
    return snap


def _loader(app: web.Application, key: str) -> Callable[[EventSnapshot | None], Awaitable[EventSnapshot | None]]:
    async def load(_previous: EventSnapshot | None) -> EventSnapshot | None:
        settings = app[SETTINGS]
        return await run_db(app, load_snapshot, key, settings.wave_size, settings.wave_interval_s)

    return load


async def request_event(request: web.Request, *, public: bool = True) -> EventSnapshot:
    """The snapshot of the event named by the request's ``{id}``, unknown-id floods limited by
    the client's address (web.ratelimit.client_address)."""
    # The hot path (every poll): an id spelled as the cache spells it (str(UUID)) is a valid
    # UUID, so a fresh loaded snapshot needs no parsing, no str(UUID) and no await.
    snap = _cache(request.app).known.fresh(request.match_info.get("id", ""))
    if snap is not None and (snap.is_public or not public):
        return snap
    return await event_snapshot(request.app, path_uuid(request, "id"), public=public, request=request)


def invalidate(app: web.Application, event_id: str | uuid.UUID) -> None:
    """Forget the cached snapshot (after an admin change in this process)."""
    _cache(app).forget(str(event_id))
