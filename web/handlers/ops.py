"""Operations: pause/resume, the event status document (and its wave settings), /metrics."""

from __future__ import annotations

import contextvars
import uuid
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, model_validator

from models import operations
from web import metrics, responses, snapshots
from web.appkeys import KEYS, SETTINGS, SYNC_REDIS
from web.auth import admin_only
from web.dbexec import run_db
from web.openapi import doc
from web.parse import json_body, path_uuid
from web.schemas.catalog import WaveInterval, WaveSize

routes = web.RouteTableDef()
TAGS = ["admin: operations"]

class WavePatch(BaseModel):
    """PATCH /admin/events/{id}/status: the event's admission waves (at least one field; null = the
    server default, as in PATCH /admin/events/{id})."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    wave_size: WaveSize | None = None
    wave_interval_s: WaveInterval | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> WavePatch:
        if not self.model_fields_set:
            raise ValueError("send wave_size and/or wave_interval_s")
        return self


class Stock(BaseModel):
    """The stock of a tier, or of an event's tiers summed (the database's counters)."""

    capacity: int
    sold: int
    held: int
    remaining: int
    live_holds: int
    #: Fans waiting on the waitlist, and offers made to them still open.
    waitlist: int
    offers_outstanding: int


class TierStatus(Stock):
    tier_id: str
    name: str
    #: The Redis gate's count (null if missing or Redis is down); the database is the truth.
    redis_available: int | None


class QueueStatus(BaseModel):
    total: int | None
    waiting: int | None
    admitted: int | None
    expired: int | None
    used: int | None
    prequeue_size: int | None


class EventStatus(Stock):
    event_id: str
    name: str
    status: str
    paused: bool
    tiers: list[TierStatus]
    queue: QueueStatus | None
    admitted_up_to: int | None
    admission_rate_per_s: float | None
    wave_size: int
    wave_interval_s: float
    wave_overridden: bool
    orders_paid: int
    orders_refunded: int
    reservation_rate_per_s: float
    order_rate_per_s: float
    degraded: list[str]
    as_of: datetime


async def _run(request: web.Request, fn, *args: Any) -> Any:
    # run_in_executor does not carry contextvars: run in a copy so log lines keep the request id.
    return await run_db(request.app, contextvars.copy_context().run, fn, *args)


async def _status(request: web.Request, event_id: uuid.UUID) -> dict[str, Any]:
    app = request.app
    return await _run(request, operations.event_status, app[SYNC_REDIS], app[KEYS], app[SETTINGS], event_id)


async def _set_paused(request: web.Request, paused: bool) -> web.Response:
    event_id = path_uuid(request, "id")
    await _run(request, operations.set_paused, event_id, paused)
    snapshots.invalidate(request.app, event_id)
    return responses.json(await _status(request, event_id))


@routes.post("/admin/events/{id}/pause")
@doc("Pause the sale (idempotent): no waves, canEnter false for fans not admitted, new reservations 409; "
     "granted holds keep their TTL and may still check out", tags=TAGS, response=EventStatus,
     responses={404: "Unknown event or malformed id"})
@admin_only
async def pause_event(request: web.Request) -> web.Response:
    return await _set_paused(request, True)


@routes.post("/admin/events/{id}/resume")
@doc("Resume a paused sale (idempotent)", tags=TAGS, response=EventStatus, responses={404: "Unknown event or malformed id"})
@admin_only
async def resume_event(request: web.Request) -> web.Response:
    return await _set_paused(request, False)


@routes.get("/admin/events/{id}/status")
@doc("Live status: stock per tier (database truth), queue, waves, pause, orders paid, reservation rate",
     tags=TAGS, response=EventStatus, responses={404: "Unknown event or malformed id"})
@admin_only
async def event_status(request: web.Request) -> web.Response:
    return responses.json(await _status(request, path_uuid(request, "id")))


@routes.patch("/admin/events/{id}/status")
@doc("Change the event's wave size and/or interval (same as PATCH /admin/events/{id}); returns the status",
     tags=TAGS, body=WavePatch, response=EventStatus, responses={404: "Unknown event or malformed id"})
@admin_only
async def patch_status(request: web.Request) -> web.Response:
    event_id = path_uuid(request, "id")
    body = await json_body(request, WavePatch)
    await _run(request, operations.set_waves, event_id, body.model_dump(exclude_unset=True))
    snapshots.invalidate(request.app, event_id)
    return responses.json(await _status(request, event_id))


def _scrape(app: web.Application) -> bytes:
    samples = operations.live_samples(app[SYNC_REDIS], app[KEYS])
    return metrics.render(app[SETTINGS].metrics_dir, samples)


@routes.get("/metrics")
@doc("Prometheus metrics of every web and worker process, plus live queue and stock gauges",
     tags=["system"], content_type="text/plain")
async def metrics_endpoint(request: web.Request) -> web.Response:
    metrics.flush()  # this process's latest request timings and tallies, exact at scrape time
    body = await run_db(request.app, _scrape, request.app)
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})
