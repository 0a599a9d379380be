"""Per-process cache of event and tier metadata for the hot paths (status, reserve, availability).

Entries live ``SNAPSHOT_TTL_S``; admin changes call :func:`invalidate` in their own process and
reach the others within that time. Concurrent misses for one event share a single load.

The cache is bounded in size and time: at most ``SNAPSHOT_CACHE_SIZE`` known events (the
oldest entry goes first) and ``UNKNOWN_CACHE_SIZE`` unknown ids, each remembered only
``UNKNOWN_TTL_S`` (so a flood of random ids cannot grow the process, nor push real events out),
and each client address may look up at most ``RATE_UNKNOWN_EVENT_PER_MIN`` unknown ids a minute
per process (429 with Retry-After beyond; lookups of cached events are never refused).
The caches and their bounds are web.eventcache's; the app factory builds one of each.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from models.catalog.snapshot import EventSnapshot, load_snapshot
from models.errors import NotFound
from web.appkeys import SETTINGS, SNAPSHOTS, UNKNOWN_EVENTS
from web.dbexec import run_db
from web.parse import path_uuid
from web.ratelimit import client_address


async def event_snapshot(app: web.Application, event_id: str | uuid.UUID, *, public: bool = False,
                         request: web.Request | None = None) -> EventSnapshot:
    """The event's snapshot; raises NotFound for unknown ids (and drafts when ``public``).
    With the ``request``, a client address that looked up too many unknown ids this minute gets
    RateLimited instead of another database read (cached events are served all the same)."""
    key = str(event_id)
    cache = app[SNAPSHOTS]
    now = time.monotonic()
    snap = cache.known.fresh(key, now)
    if snap is None and cache.known.is_loading(key):
        snap = await cache.known.load(key, _loader(app, key))  # joins the load in flight
    elif snap is None:
        limiter = client = None
        if request is not None and app[SETTINGS].rate_unknown_event_per_min > 0:
            limiter, client = app[UNKNOWN_EVENTS], client_address(request, app[SETTINGS])
        if not cache.unknown.fresh(key, now):
            if limiter is not None:
                limiter.check(client, now)
            snap = await cache.known.load(key, _loader(app, key))
            if snap is None:
                cache.known.forget(key)
                cache.unknown.put(key, True)
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


def fresh_event(request: web.Request, *, public: bool = True) -> EventSnapshot | None:
    """The request's event (a public one unless ``public`` is False) if its snapshot is fresh in
    this process, else None (then await :func:`request_event`): a poll's hot path, no coroutine."""
    # An id spelled as the cache spells it (str(UUID)) is a valid UUID, so a fresh loaded
    # snapshot needs no parsing and no str(UUID).
    snap = request.app[SNAPSHOTS].known.fresh(request.match_info.get("id", ""))
    return snap if snap is not None and (snap.is_public or not public) else None


async def request_event(request: web.Request, *, public: bool = True) -> EventSnapshot:
    """The snapshot of the event named by the request's ``{id}``, unknown-id floods limited by
    the client's address (web.ratelimit.client_address)."""
    snap = fresh_event(request, public=public)
    if snap is not None:
        return snap
    return await event_snapshot(request.app, path_uuid(request, "id"), public=public, request=request)


def invalidate(app: web.Application, event_id: str | uuid.UUID) -> None:
    """Forget the cached snapshot (after an admin change in this process)."""
    app[SNAPSHOTS].forget(str(event_id))
