"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from aiohttp import web
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from models.checkout.service import CheckoutService
from models.db import bind_database, database, open_database
from models.keys import Keys
from models.ratelimit import RateLimiter
from models.redis import connect_async, connect_sync, is_cluster
from models.reservations.service import ReservationService
from models.settings import Settings
from models.waiting_room import RoomService
from models.waiting_room.batching import CommandBatcher
from web import eventroutes, hotpath, identity, routes
from web.appkeys import (
    ACTORS,
    BATCHER,
    BROKER,
    CHECKOUT,
    DB_EXECUTOR,
    KEYS,
    OUTCOMES,
    RATE_LIMITER,
    RATE_POLICIES,
    REDIS,
    RESERVATIONS,
    SETTINGS,
    SNAPSHOTS,
    SYNC_REDIS,
    UNKNOWN_EVENTS,
    WAITING_ROOM,
)
from web.dbexec import run_db
from web.dbthreads import DbThreads
from web.eventcache import SnapshotCache, UnknownIdLimiter
from web.looplag import loop_lag_ctx
from web.metrics import flush_timings_ctx
from web.middleware import seal_on_startup
from web.outcomes import OutcomeHub
from web.ratelimit import all_policies
from workers.entry import wire

log = logging.getLogger("ticketdrop.web")


def create_app(
    settings: Settings | None = None,
    *,
    redis: Any = None,
    broker: Any = None,
    bind_db: bool = True,
) -> web.Application:
    """Build the app. Tests pass their own ``redis`` (fakeredis) and ``broker`` (StubBroker), and
    may set a service's key (web.appkeys) before the app starts to use their own object."""
    settings = settings or Settings.from_env()
    # No aiohttp middleware: the edge step wraps each route's handler as the app starts (web.middleware).
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[KEYS] = Keys(settings.redis_prefix)
    identity.setup(app)
    if bind_db:
        bind_database(open_database(settings.database_url, max_connections=settings.db_max_connections))
    app.cleanup_ctx.append(_db_executor_ctx)
    app.cleanup_ctx.append(flush_timings_ctx)
    app.cleanup_ctx.append(loop_lag_ctx)
    app.cleanup_ctx.append(_redis_ctx(redis))
    app.cleanup_ctx.append(_sync_redis_ctx)
    app.cleanup_ctx.append(_broker_ctx(broker))
    app.cleanup_ctx.append(_services_ctx)
    eventroutes.install(app)  # before every route: the first resource under /events
    routes.setup(app)
    app.on_startup.append(eventroutes.seal_on_startup)
    app.on_startup.append(seal_on_startup)
    app.on_startup.append(hotpath.install_on_startup)  # after the seal: the polls and the join below the router
    return app


async def _db_executor_ctx(app: web.Application):
    executor = DbThreads(app[SETTINGS].db_threads)
    app[DB_EXECUTOR] = executor
    yield
    await asyncio.to_thread(executor.shutdown)  # lets queued calls finish, off the loop they report to
    if not database.is_closed():
        database.close()
    if hasattr(database.obj, "close_all"):
        database.obj.close_all()


def _redis_ctx(injected: Any):
    async def ctx(app: web.Application):
        client = injected if injected is not None else connect_async(app[SETTINGS].redis_url)
        if is_cluster(client):
            # Learn the slot map now, not inside the first requests' time budgets (the rate
            # limiter's is 0.5 s); an unreachable cluster is retried by the first command.
            try:
                await client.initialize()
            except (RedisError, OSError) as exc:
                log.warning("Redis Cluster not reachable at start-up", extra={"error": f"{type(exc).__name__}: {exc}"})
        app[REDIS] = client
        yield
        if injected is None:
            await client.aclose()

    return ctx


def _broker_ctx(injected: Any):
    """Build the broker from BROKER_URL (or take the injected one), declare the actors on it and
    bind the domain's commands (workers.entry.wire)."""

    async def ctx(app: web.Application):
        wiring = wire(app[SETTINGS], injected)
        app[BROKER], app[ACTORS] = wiring.broker, wiring.actors
        yield
        if injected is None:
            wiring.broker.close()

    return ctx


async def _sync_redis_ctx(app: web.Application):
    """The blocking client for code that runs in database threads (status, scrapes, refunds).
    Fail fast: a status page or a scrape should report Redis down, not wait out retries."""
    own = SYNC_REDIS not in app  # tests set one sharing their fakeredis
    if own:
        app[SYNC_REDIS] = connect_sync(app[SETTINGS].redis_url, retry=Retry(NoBackoff(), 1), socket_timeout=2)
    yield
    if own:
        app[SYNC_REDIS].close()


async def _services_ctx(app: web.Application):
    """The services, each built once with its dependencies as keyword arguments, in the order they
    depend on each other (after Redis and the broker), and closed in the reverse order.

    One CommandBatcher serves every hot path: the commands of concurrent requests (joins, status
    reads, rate-limit checks, reservation scripts, settle claims) travel as one pipeline over a
    lean connection, a few microseconds per command instead of redis-py's pool checkout, packing
    and parsing (a script call through redis-py was about 8% of the web process's samples per call
    site under bench-purchase)."""
    settings, keys, redis = app[SETTINGS], app[KEYS], app[REDIS]
    run_blocking = partial(run_db, app)
    batcher = app[BATCHER] = CommandBatcher(redis)
    room = app[WAITING_ROOM] = RoomService(redis=redis, keys=keys, settings=settings, run_blocking=run_blocking,
                                           batcher=batcher)
    _provide(app, RATE_LIMITER, lambda: RateLimiter(redis=redis, keys=keys, run_script=batcher.run_script,
                                                    timeout_s=settings.rate_check_timeout_s))
    app[RATE_POLICIES] = all_policies(settings)
    _provide(app, SNAPSHOTS, SnapshotCache)
    app[UNKNOWN_EVENTS] = UnknownIdLimiter(per_min=settings.rate_unknown_event_per_min)
    outcomes = app[OUTCOMES] = OutcomeHub(redis=redis, channel=keys.outcomes_channel())
    app[RESERVATIONS] = ReservationService(redis=redis, keys=keys, settings=settings, run_blocking=run_blocking,
                                           run_script=batcher.run_script)
    app[CHECKOUT] = CheckoutService(redis=redis, keys=keys, settings=settings, run_blocking=run_blocking,
                                    command=batcher.command)
    yield
    await outcomes.close()
    await room.aclose()
    await batcher.aclose()


def _provide(app: web.Application, key: web.AppKey, build) -> None:
    """Set ``key`` to a new service unless a test set its own before the app started."""
    if key not in app:
        app[key] = build()
