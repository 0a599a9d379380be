"""The waitlist (join, list, leave) and order cancellation (fan and admin). Thin: parse, call
models.waitlist / models.checkout.refunds, render."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from models.checkout import refunds
from models.waitlist import entries
from web import responses
from web.appkeys import KEYS, REDIS, SETTINGS, SYNC_REDIS
from web.auth import admin_only
from web.dbexec import run_db
from web.openapi import doc
from web.parse import json_body, path_uuid, user_id
from web.schemas.waitlist import OrderView, WaitlistEntryView, WaitlistJoin, WaitlistList
from web.snapshots import event_snapshot

routes = web.RouteTableDef()


@routes.post("/events/{id}/waitlist")
@doc("Join a sold-out tier's waitlist; returned tickets are offered in waiting-room order", tags=["waitlist"],
     body=WaitlistJoin, response=WaitlistEntryView, status=201, user_header=True,
     responses={200: "Your existing entry of this tier", 404: "Unknown event or tier",
                409: "Not sold out (remaining says how many are left), over the per-event limit, or the event is "
                     "not selling", 422: "Malformed body or quantity over the tier's limit"})
async def join_waitlist(request: web.Request) -> web.Response:
    app = request.app
    user = user_id(request)
    event_id = path_uuid(request, "id")
    body = await json_body(request, WaitlistJoin)
    snapshot = await event_snapshot(app, event_id, public=True)
    joined = await entries.join(app[REDIS], app[KEYS], app[SETTINGS], snapshot, user_id=user, tier_id=str(body.tier_id),
                                quantity=body.quantity, run_blocking=partial(run_db, app))
    return responses.json(joined.entry, status=201 if joined.created else 200,
                          headers={"Location": f"/waitlist/{joined.entry['id']}"})


@routes.get("/me/waitlist")
@doc("Your waitlist entries, each with its outstanding offer (a hold to check out) and expiry", tags=["waitlist"],
     response=WaitlistList, user_header=True, responses={400: "Missing X-User-Id"})
async def my_waitlist(request: web.Request) -> web.Response:
    return responses.json({"entries": await run_db(request.app, entries.user_entries, user_id(request))})


@routes.delete("/waitlist/{id}")
@doc("Leave a waitlist (an outstanding offer is released to the next fan); idempotent", tags=["waitlist"],
     response=WaitlistEntryView, user_header=True,
     responses={404: "No such entry of yours", 409: "The offer was already bought"})
async def leave_waitlist(request: web.Request) -> web.Response:
    app = request.app
    user = user_id(request)
    entry_id = str(path_uuid(request, "id"))
    return responses.json(await entries.leave(app[REDIS], app[KEYS], user, entry_id, partial(run_db, app)))


def _rt(app: web.Application) -> Any:
    return SimpleNamespace(settings=app[SETTINGS], redis=app[SYNC_REDIS], keys=app[KEYS])


@routes.post("/me/orders/{id}/cancel")
@doc("Cancel your order within the self-cancel window: refunded, tickets void, offered to the waitlist",
     tags=["checkout"], response=OrderView, user_header=True,
     responses={404: "No such order of yours", 409: "Self-cancel not allowed for this event, window passed, or a "
                                                     "ticket is checked in"})
async def cancel_my_order(request: web.Request) -> web.Response:
    user = user_id(request)
    order_id = path_uuid(request, "id")
    return responses.json(await run_db(request.app, refunds.cancel_order, _rt(request.app), order_id, user_id=user))


@routes.post("/admin/orders/{id}/cancel")
@doc("Cancel an order with a (simulated) refund; idempotent", tags=["admin: orders"], response=OrderView,
     responses={404: "Unknown order or malformed id", 409: "A ticket of the order is checked in"})
@admin_only
async def cancel_order(request: web.Request) -> web.Response:
    order_id = path_uuid(request, "id")
    return responses.json(await run_db(request.app, refunds.cancel_order, _rt(request.app), order_id))
