"""Tickets: the fan's list, QR codes, rotating-code key and transfers; the gate scanner's
verify and check-in (admin token)."""

from __future__ import annotations

import functools

from aiohttp import web

from models import ticket_scan, ticket_transfer, tickets
from web import responses
from web.appkeys import KEYS, REDIS, SETTINGS
from web.auth import admin_only
from web.dbexec import run_db
from web.openapi import doc
from web.parse import json_body, user_id
from web.schemas.checkout import RotatingKey, ScanRequest, ScanResult, TransferDocument, TransferRequest, UserTicketList

routes = web.RouteTableDef()


@routes.get("/me/tickets")
@doc("Every ticket of yours across events, with its QR payload", tags=["tickets"], response=UserTicketList,
     user_header=True, responses={400: "Missing X-User-Id"})
async def my_tickets(request: web.Request) -> web.Response:
    return responses.json(await run_db(request.app, tickets.user_tickets, user_id(request)))


@routes.get("/tickets/{code}/qr.svg")
@doc("A ticket of yours as a QR code (SVG)", tags=["tickets"], user_header=True, content_type="image/svg+xml",
     responses={400: "Missing X-User-Id", 404: "No such ticket of yours"})
async def ticket_qr(request: web.Request) -> web.Response:
    user = user_id(request)
    svg = await run_db(request.app, tickets.qr_svg, user, request.match_info["code"])
    return web.Response(body=svg, content_type="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})


#: Answers that carry a ticket secret must not be kept by any cache.
_NO_STORE = {"Cache-Control": "no-store"}


@routes.get("/me/tickets/{code}/rotating")
@doc("The key of a ticket of yours for its live rotating code (for your device only; see the format field)",
     tags=["tickets"], response=RotatingKey, user_header=True,
     responses={404: "No such ticket of yours", 409: "Void ticket, or the event takes printed codes only"})
async def rotating_key(request: web.Request) -> web.Response:
    user = user_id(request)
    key = await run_db(request.app, ticket_transfer.rotating_key, user, request.match_info["code"],
                       rotate_s=request.app[SETTINGS].rotate_s)
    return responses.json(key, headers=_NO_STORE)


@routes.post("/me/tickets/{code}/transfer")
@doc("Give a ticket of yours to another fan: new owner, new secret; your codes stop scanning at once. "
     "The receiver's per-event limit applies. Retrying a finished transfer returns it again",
     tags=["tickets"], body=TransferRequest, response=TransferDocument, user_header=True,
     responses={404: "No such ticket of yours", 409: "Checked in, void, changed meanwhile, or the receiver's limit"})
async def transfer_ticket(request: web.Request) -> web.Response:
    user = user_id(request)
    body = await json_body(request, TransferRequest)
    app, settings = request.app, request.app[SETTINGS]
    document = await ticket_transfer.transfer(
        app[REDIS], app[KEYS], settings.secret_bytes, settings.event_purchase_limit, functools.partial(run_db, app),
        from_user=user, code=request.match_info["code"], to_user=body.to_user)
    return responses.json(document, headers=_NO_STORE)


def _scan(fn):
    async def call(request: web.Request, payload: str):
        settings = request.app[SETTINGS]
        return await run_db(request.app, functools.partial(fn, rotate_s=settings.rotate_s), settings.secret_bytes, payload)

    return call


@routes.post("/admin/tickets/verify")
@doc("Scanner: check a printed or rotating code without admitting (valid, checked_in, void, or a refusal: "
     "invalid_signature, expired, not_yet_valid, static_refused, rotating_refused; message says what to tell the fan)",
     tags=["admin: gate"], body=ScanRequest, response=ScanResult)
@admin_only
async def verify_ticket(request: web.Request) -> web.Response:
    body = await json_body(request, ScanRequest)
    return responses.json(await _scan(ticket_scan.verify)(request, body.payload))


@routes.post("/admin/tickets/check-in")
@doc("Scanner: admit a ticket exactly once (of two simultaneous scans, one wins)", tags=["admin: gate"],
     body=ScanRequest, response=ScanResult,
     responses={403: "Code refused: invalid_signature, expired ('expired code: ask the fan to show the live ticket'), "
                     "not_yet_valid, static_refused, rotating_refused (or admin token wrong)",
                409: "Already checked in (checked_in_at says when) or void"})
@admin_only
async def check_in_ticket(request: web.Request) -> web.Response:
    body = await json_body(request, ScanRequest)
    return responses.json(await _scan(ticket_scan.check_in)(request, body.payload))
