"""Typed application state: every shared object the handlers use."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from models.checkout.service import CheckoutService
from models.keys import Keys
from models.reservations.service import ReservationService
from models.settings import Settings
from web.dbthreads import DbThreads
from workers.actors import Actors

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", aioredis.Redis)
KEYS = web.AppKey("keys", Keys)
#: Threads for blocking Peewee calls (see web.dbexec.run_db).
DB_EXECUTOR = web.AppKey("db_executor", DbThreads)
#: The Dramatiq broker messages are sent to (built in the app's cleanup_ctx, not at import).
BROKER = web.AppKey("broker", Any)
#: The actors declared on BROKER (the health check's echo; the domain sends through models.commands).
ACTORS = web.AppKey("actors", Actors)
#: Per-process helpers that later modules attach (outcome hub, caches, limiter...).
SERVICES = web.AppKey("services", dict)
#: The reservation service (availability, submit, read, cancel), built in the app's cleanup_ctx.
RESERVATIONS = web.AppKey("reservations", ReservationService)
#: The checkout service (open, confirm, read sessions and orders), built in the app's cleanup_ctx.
CHECKOUT = web.AppKey("checkout", CheckoutService)
#: The request id of the request being served (see web.middleware).
REQUEST_ID = web.RequestKey("request_id", str)
