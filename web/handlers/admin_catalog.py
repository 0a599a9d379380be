"""Admin catalogue: create, read and change events and their ticket tiers.

Every change drops this process's cached event snapshot (web.snapshots); other processes
pick it up when their snapshot expires.
"""

from __future__ import annotations

import logging
import uuid

from aiohttp import web
from redis.exceptions import RedisError

from models import catalog, inventory
from models.checkout import refunds
from models.waitlist.nudge import nudge_sync
from web import responses, snapshots
from web.appkeys import KEYS, REDIS, SYNC_REDIS
from web.auth import admin_only
from web.dbexec import run_db
from web.openapi import doc
from web.parse import json_body, path_uuid, query
from web.schemas.catalog import EventCreate, EventPatch, TierCreate, TierListQuery, TierPatch
from web.schemas.catalog_responses import AdminEvent, AdminEventList, AdminTier, AdminTierList

log = logging.getLogger("ticketdrop.web")
routes = web.RouteTableDef()
TAGS = ["admin: catalogue"]


# Each runs in one database call: change (or read), then render.
def _create_event(fields: dict) -> dict:
    return catalog.admin_event(catalog.create_event(**fields), [])


def _patch_event(event_id: uuid.UUID, changes: dict) -> dict:
    return catalog.admin_event_document(catalog.update_event(event_id, changes))


def _create_tier(fields: dict) -> dict:
    return catalog.admin_tier(catalog.create_tier(**fields))


def _patch_tier(tier_id: uuid.UUID, changes: dict) -> dict:
    return catalog.admin_tier(catalog.update_tier(tier_id, changes))


def _get_tier(tier_id: uuid.UUID) -> dict:
    return catalog.admin_tier(catalog.get_tier(tier_id))


def _list_tiers(event_id: uuid.UUID | None) -> list[dict]:
    return [catalog.admin_tier(t) for t in catalog.list_tiers(event_id)]


async def _change(request: web.Request, event_field: str, change, *args) -> dict:
    """Run ``change(*args)`` (one database call) and forget the cached snapshot of the event it
    changed (the document's ``event_field``); returns the document."""
    document = await run_db(request.app, change, *args)
    snapshots.invalidate(request.app, document[event_field])
    return document


async def _patch(request: web.Request, body_model: type[EventPatch] | type[TierPatch], event_field: str, change) -> tuple[dict, dict]:
    """Apply the body's changes to the resource the path's ``{id}`` names (see :func:`_change`);
    returns the document and the changes."""
    resource_id = path_uuid(request, "id")
    changes = (await json_body(request, body_model)).changes()
    return await _change(request, event_field, change, resource_id, changes), changes


def _created(document: dict, collection: str) -> web.Response:
    return responses.json(document, status=201, headers={"Location": f"{collection}/{document['id']}"})


@routes.post("/admin/events")
@doc("Create an event (draft unless a status is given)", tags=TAGS, body=EventCreate, response=AdminEvent, status=201)
@admin_only
async def create_event(request: web.Request) -> web.Response:
    body = await json_body(request, EventCreate)
    return _created(await _change(request, "id", _create_event, body.model_dump()), "/admin/events")


@routes.get("/admin/events")
@doc("Every event, drafts included, with tiers and their sold/held counters", tags=TAGS, response=AdminEventList)
@admin_only
async def list_events(request: web.Request) -> web.Response:
    return responses.json(await run_db(request.app, catalog.admin_catalog))


@routes.get("/admin/events/{id}")
@doc("One event with its tiers", tags=TAGS, response=AdminEvent, responses={404: "Unknown event or malformed id"})
@admin_only
async def get_event(request: web.Request) -> web.Response:
    event_id = path_uuid(request, "id")
    return responses.json(await run_db(request.app, catalog.admin_event_document, event_id))


@routes.patch("/admin/events/{id}")
@doc("Change any subset of an event's fields; status moves draft -> scheduled -> on_sale -> closed, or to canceled",
     tags=TAGS, body=EventPatch, response=AdminEvent,
     responses={404: "Unknown event or malformed id", 409: "Status move not allowed"})
@admin_only
async def patch_event(request: web.Request) -> web.Response:
    event, changes = await _patch(request, EventPatch, "id", _patch_event)
    if changes.get("status") == "canceled":
        await _event_canceled(request.app, event["id"])
    return responses.json(event)


async def _event_canceled(app: web.Application, event_id: str) -> None:
    """Refund its orders and close its waitlists. The cancellation is committed either way: if
    the broker or Redis is down, the sweep refunds and closes what is left."""
    await run_db(app, refunds.on_event_canceled, event_id)
    try:
        await app[REDIS].delete(app[KEYS].waitlist(event_id))
    except RedisError:
        log.warning("waitlist gate not cleared after a cancellation", extra={"event_id": event_id})


@routes.post("/admin/tiers")
@doc("Add a ticket tier to an event", tags=TAGS, body=TierCreate, response=AdminTier, status=201,
     responses={409: "The event is closed or canceled", 422: "Invalid field, or no such event (field event_id)"})
@admin_only
async def create_tier(request: web.Request) -> web.Response:
    body = await json_body(request, TierCreate)
    return _created(await _change(request, "event_id", _create_tier, body.model_dump()), "/admin/tiers")


@routes.get("/admin/tiers")
@doc("Tiers by price, of every event or of ?event_id=", tags=TAGS, query=TierListQuery, response=AdminTierList)
@admin_only
async def list_tiers(request: web.Request) -> web.Response:
    params = query(request, TierListQuery)
    return responses.json(await run_db(request.app, _list_tiers, params.event_id))


@routes.get("/admin/tiers/{id}")
@doc("One tier with its sold/held counters", tags=TAGS, response=AdminTier, responses={404: "Unknown tier or malformed id"})
@admin_only
async def get_tier(request: web.Request) -> web.Response:
    tier_id = path_uuid(request, "id")
    return responses.json(await run_db(request.app, _get_tier, tier_id))


@routes.patch("/admin/tiers/{id}")
@doc("Change a tier's name, price, capacity or per-user limit", tags=TAGS, body=TierPatch, response=AdminTier,
     responses={404: "Unknown tier or malformed id", 409: "Capacity below sold + held"})
@admin_only
async def patch_tier(request: web.Request) -> web.Response:
    tier, changes = await _patch(request, TierPatch, "event_id", _patch_tier)
    if "capacity" in changes:
        await _refresh_stock(request.app, tier["event_id"])
    return responses.json(tier)


async def _refresh_stock(app: web.Application, event_id: str) -> None:
    """Show a new capacity to the reservation gate now rather than at the next sweep. The change
    is committed either way: if Redis is down, the reconcile sweep applies it later."""
    try:
        await run_db(app, inventory.reconcile_event, app[SYNC_REDIS], app[KEYS], str(event_id))
        # A capacity increase is stock coming back: the tier's waitlist is offered it first.
        await run_db(app, nudge_sync, app[SYNC_REDIS], app[KEYS], str(event_id))
    except RedisError:
        log.warning("stock not refreshed after a capacity change; the sweep will", extra={"event_id": str(event_id)})
