"""Typed application state: every shared object the handlers use, one key each.

The app factory (web.app) sets the configuration keys when it builds the app and creates the
services in order in its cleanup_ctx, each once, with its dependencies as keyword arguments. A
test may set a service's key itself before the app starts: the factory then uses that object.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis
import redis.asyncio as aioredis
from aiohttp import web

from models.checkout.service import CheckoutService
from models.identity import TokenVerifier
from models.keys import Keys
from models.ratelimit import Policy, RateLimiter
from models.reservations.service import ReservationService
from models.settings import Settings
from models.waiting_room import RoomService
from models.waiting_room.batching import CommandBatcher
from web.dbthreads import DbThreads
from web.eventcache import SnapshotCache, UnknownIdLimiter
from web.outcomes import OutcomeHub
from workers.actors import Actors

SETTINGS = web.AppKey("settings", Settings)
KEYS = web.AppKey("keys", Keys)
#: The verifier of fans' bearer tokens and the lock that lets one request at a time read the
#: JWKS again (jwt mode only; web.identity sets them when the app is built: a key source that
#: cannot be read refuses to start).
TOKEN_VERIFIER = web.AppKey("token_verifier", TokenVerifier)
JWKS_LOCK = web.AppKey("jwks_lock", asyncio.Lock)

# Created in this order by the app factory's cleanup_ctx (and closed in the reverse order).
#: Threads for blocking Peewee calls (see web.dbexec.run_db).
DB_EXECUTOR = web.AppKey("db_executor", DbThreads)
REDIS = web.AppKey("redis", aioredis.Redis)
#: A blocking Redis client for the code that runs in database threads (status pages, scrapes,
#: refunds); it fails fast rather than waiting out retries.
SYNC_REDIS = web.AppKey("sync_redis", redis.Redis)
#: The Dramatiq broker messages are sent to (built in the app's cleanup_ctx, not at import).
BROKER = web.AppKey("broker", Any)
#: The actors declared on BROKER (the health check's echo; the domain sends through models.commands).
ACTORS = web.AppKey("actors", Actors)
#: Coalesces the process's hot-path Redis commands into pipelines (waiting room, rate limiter,
#: reservations, checkout).
BATCHER = web.AppKey("batcher", CommandBatcher)
#: The waiting room service (join, status, progress, fairness).
WAITING_ROOM = web.AppKey("waiting_room", RoomService)
#: The fan commands' rate limiter, and each limited scope's (per-user, per-address) policies.
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
RATE_POLICIES = web.AppKey("rate_policies", dict[str, tuple[Policy, Policy]])
#: The per-process event snapshots (web.snapshots), and the per-address count of unknown-id lookups.
SNAPSHOTS = web.AppKey("snapshots", SnapshotCache)
UNKNOWN_EVENTS = web.AppKey("unknown_events", UnknownIdLimiter)
#: The pub/sub listener that resolves ``Prefer: wait`` requests (web.outcomes).
OUTCOMES = web.AppKey("outcomes", OutcomeHub)
#: The reservation service (availability, submit, read, cancel).
RESERVATIONS = web.AppKey("reservations", ReservationService)
#: The checkout service (open, confirm, read sessions and orders).
CHECKOUT = web.AppKey("checkout", CheckoutService)

#: The request id of the request being served (see web.middleware).
REQUEST_ID = web.RequestKey("request_id", str)
