"""Tickets: the fan's list and QR codes; the gate scanner's verify and check-in (admin token)."""

from __future__ import annotations

from aiohttp import web

from models import ticket_scan, tickets
from web import responses
from web.appkeys import SETTINGS
from web.auth import admin_only
from web.dbexec import run_db
from web.openapi import doc
from web.parse import json_body, user_id
from web.schemas.checkout import ScanRequest, ScanResult, UserTicketList

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


@routes.post("/admin/tickets/verify")
@doc("Scanner: check a QR payload without admitting (valid, invalid_signature, void, checked_in)",
     tags=["admin: gate"], body=ScanRequest, response=ScanResult)
@admin_only
async def verify_ticket(request: web.Request) -> web.Response:
    body = await json_body(request, ScanRequest)
    return responses.json(await run_db(request.app, ticket_scan.verify, request.app[SETTINGS].secret_bytes, body.payload))


@routes.post("/admin/tickets/check-in")
@doc("Scanner: admit a ticket exactly once (of two simultaneous scans, one wins)", tags=["admin: gate"],
     body=ScanRequest, response=ScanResult,
     responses={403: "Invalid signature (or admin token wrong)", 409: "Already checked in (checked_in_at says when) or void"})
@admin_only
async def check_in_ticket(request: web.Request) -> web.Response:
    body = await json_body(request, ScanRequest)
    return responses.json(await run_db(request.app, ticket_scan.check_in, request.app[SETTINGS].secret_bytes, body.payload))
