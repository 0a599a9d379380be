"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from models.checkout.service import CheckoutService
from models.db import bind_database, database, open_database
from models.keys import Keys
from models.redis import connect_async, is_cluster
from models.reservations.service import ReservationService
from models.settings import Settings
from web import hooks, identity, outcomes, routes
from web.appkeys import ACTORS, BROKER, CHECKOUT, DB_EXECUTOR, KEYS, REDIS, RESERVATIONS, SERVICES, SETTINGS
from web.dbexec import run_db
from web.dbthreads import DbThreads
from web.metrics import flush_timings_ctx
from web.middleware import edge_middleware
from web.pipelining import command_runner, script_runner
from workers.entry import wire

log = logging.getLogger("ticketdrop.web")


def create_app(
    settings: Settings | None = None,
    *,
    redis: Any = None,
    broker: Any = None,
    bind_db: bool = True,
) -> web.Application:
    """Build the app. Tests pass their own ``redis`` (fakeredis) and ``broker`` (StubBroker)."""
    settings = settings or Settings.from_env()
    app = web.Application(
        middlewares=_middlewares(settings),
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[KEYS] = Keys(settings.redis_prefix)
    app[SERVICES] = {}
    identity.setup(app)
    if bind_db:
        bind_database(open_database(settings.database_url, max_connections=settings.db_max_connections))
    app.cleanup_ctx.append(_db_executor_ctx)
    app.cleanup_ctx.append(flush_timings_ctx)
    app.cleanup_ctx.append(_redis_ctx(redis))
    app.cleanup_ctx.append(_broker_ctx(broker))
    app.cleanup_ctx.append(_services_ctx)
    app.on_cleanup.append(outcomes.close)
    routes.setup(app)
    return app


def _middlewares(settings: Settings) -> list:
    return [edge_middleware(settings), *hooks.outer_middlewares(), *hooks.inner_middlewares(), *identity.middlewares(settings)]


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


async def _services_ctx(app: web.Application):
    """The domain services, built once with their dependencies (after Redis and the broker)."""
    app[RESERVATIONS] = ReservationService(redis=app[REDIS], keys=app[KEYS], settings=app[SETTINGS],
                                           run_blocking=partial(run_db, app), script_runner=lambda: script_runner(app))
    app[CHECKOUT] = CheckoutService(redis=app[REDIS], keys=app[KEYS], settings=app[SETTINGS],
                                    run_blocking=partial(run_db, app), command_runner=lambda: command_runner(app))
    yield
