"""Waiting room: join, progress and status (the hottest routes: fans poll progress every 2 s, their own
status when it may have changed), fairness proof."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from models.errors import InvalidInput
from models.waiting_room.service import MAX_HMACS_PAGE, Answer
from web import edgecache, ratelimit, responses
from web.appkeys import WAITING_ROOM
from web.openapi import UNKNOWN_EVENT_FLOOD, doc
from web.parse import query, user_id
from web.snapshots import fresh_event, request_event

routes = web.RouteTableDef()

_OPTIONAL_USER = [{"name": "X-User-Id", "in": "header", "required": False,
                   "description": "Names the fan: joining again returns the same token and place. "
                                  "Without it the token itself is the fan's identity.",
                   "schema": {"type": "string", "maxLength": 128}}]


class JoinResponse(BaseModel):
    token: str = Field(description="44-character token; keep it to poll status and to reserve")
    position: int | None = Field(description="Place in the queue; null while in the pre-queue (drawn at on-sale)")
    total: int
    state: Literal["waiting", "sale_open", "paused", "sold_out", "closed"]
    onSaleAt: datetime
    prequeue: bool = Field(description="True when joined before on-sale: arrival time does not matter")
    roomGeneration: int = Field(description="Changes only when the room is rebuilt after a data loss (a Redis "
                                            "restore); a client whose last own status or join answer names another "
                                            "generation reads its status again: its place may have changed")


class StatusQuery(BaseModel):
    token: str = Field(min_length=1, description="The token join gave you")


class StatusResponse(BaseModel):
    state: Literal["waiting", "sale_open", "paused", "sold_out", "closed"]
    onSaleAt: datetime
    secondsUntilOnSale: int
    position: int | None
    total: int
    aheadOfYou: int | None
    canEnter: bool
    etaSeconds: int | None = Field(description="From the measured admission pace; null when unknown (not drawn, paused)")
    admission: Literal["queued", "admitted", "expired"]
    admissionExpiresAt: datetime | None
    roomGeneration: int = Field(description="Changes only when the room is rebuilt after a data loss (a Redis "
                                            "restore); a client whose last own status or join answer names another "
                                            "generation reads its status again: its place may have changed")


class ProgressResponse(BaseModel):
    state: Literal["waiting", "sale_open", "paused", "sold_out", "closed"]
    onSaleAt: datetime
    total: int = Field(description="Fans in the queue")
    drawn: bool = Field(description="True once the pre-queue has been drawn (pre-queue fans have a position)")
    admittedThrough: int = Field(description="Every position up to this one has been admitted")
    positionsPerMinute: float = Field(description="The measured admission pace")
    nextWaveAt: datetime | None = Field(description="When the next wave is expected; null unless waiting or selling")
    roomGeneration: int = Field(description="Changes only when the room is rebuilt after a data loss (a Redis "
                                            "restore); a client whose last own status or join answer names another "
                                            "generation reads its status again: its place may have changed")


class FairnessResponse(BaseModel):
    event_id: str
    commitment: str = Field(description="hex SHA-256 of the salt's bytes, published before anyone joins")
    salt: str | None = Field(description="hex; null until the pre-queue is drawn at on-sale")
    committed_at: datetime
    revealed_at: datetime | None
    prequeue_size: int | None
    algorithm: str


#: Highest hmacs offset: past any queue, and well inside the JSON integers every client reads.
MAX_HMACS_OFFSET = 2**31 - 1


class HmacsQuery(BaseModel):
    offset: int = Field(0, ge=0, le=MAX_HMACS_OFFSET)
    limit: int = Field(1000, ge=1, le=MAX_HMACS_PAGE)


class HmacsResponse(BaseModel):
    offset: int
    limit: int
    total: int
    hmacs: list[str] = Field(description="hex HMAC-SHA256(salt, token) in queue order: position = offset + index + 1")


# Registered in order of traffic: aiohttp tries this module's routes in turn (see web/routes.py).
@routes.get("/events/{id}/waiting-room/status")
@doc("A fan's place, admission and honest ETA (poll every few seconds). Cacheable: "
     "Cache-Control public, max-age until the next wave is due (at most one wave interval); "
     "a weak ETag that ignores the two countdowns; If-None-Match answers 304 while it holds",
     tags=["waiting room"], query=StatusQuery, response=StatusResponse,
     responses={304: "Not modified since the ETag in If-None-Match", 404: "Unknown event, or a token not of this event",
                429: UNKNOWN_EVENT_FLOOD})
async def status(request: web.Request) -> web.Response:
    return edgecache.respond(request, await status_answer(request))


async def status_parts(request: web.Request) -> tuple[int, dict[str, str], bytes | None]:
    """:func:`status`'s answer before HTTP (status, headers, body or None for a 304): web.hotpath
    (the same poll served below the router) writes it itself."""
    return edgecache.parts(request, await status_answer(request))


async def status_answer(request: web.Request) -> Answer:
    """The status poll's answer, before HTTP: :func:`status` sends it through aiohttp's response,
    :func:`status_parts` gives it to web.hotpath."""
    qs = request.query_string
    # The hot path: "token=<44 url-safe characters>" needs no MultiDict (a token never needs escaping).
    token = qs[6:] if qs.startswith("token=") and "&" not in qs and "%" not in qs else request.query.get("token")
    if not token:
        raise InvalidInput("The token query parameter is required", field="query.token")
    event = fresh_event(request) or await request_event(request)
    return await request.app[WAITING_ROOM].status_answer(event, token)


@routes.get("/events/{id}/waiting-room/progress")
@doc("The room's progress, the same for every fan: admitted through which position, the pace, the next "
     "wave. Poll this (an edge cache answers it) and read your own status again once "
     "admittedThrough >= your position. Cache-Control public, max-age until the next wave; ETag; 304",
     tags=["waiting room"], response=ProgressResponse,
     responses={304: "Not modified since the ETag in If-None-Match", 404: "Unknown or draft event",
                429: UNKNOWN_EVENT_FLOOD})
async def progress(request: web.Request) -> web.Response:
    return edgecache.respond(request, await progress_answer(request))


async def progress_parts(request: web.Request) -> tuple[int, dict[str, str], bytes | None]:
    """:func:`progress`'s answer before HTTP (status, headers, body or None for a 304): web.hotpath
    (the same poll served below the router) writes it itself."""
    return edgecache.parts(request, await progress_answer(request))


async def progress_answer(request: web.Request) -> Answer:
    """The room's progress document, before HTTP: :func:`progress` sends it through aiohttp's
    response, :func:`progress_parts` gives it to web.hotpath."""
    event = fresh_event(request) or await request_event(request)
    room = request.app[WAITING_ROOM]
    return room.known_progress(event) or await room.progress(event)


@routes.post("/events/{id}/waiting-room/join")
@doc("Join the event's waiting room (the same X-User-Id always gets the same token and place)", tags=["waiting room"],
     response=JoinResponse, status=201, headers=_OPTIONAL_USER,
     responses={200: "Joined before: the same token and place", 404: "Unknown or draft event",
                409: "Event closed, canceled or sold out", 429: UNKNOWN_EVENT_FLOOD})
async def join(request: web.Request) -> web.Response:
    code, headers, body = await join_parts(request)
    return web.Response(status=code, headers=headers, body=body)


async def join_parts(request: web.Request) -> tuple[int, dict[str, str], bytes]:
    """The join's answer, before HTTP (status, headers, body): :func:`join` sends it through
    aiohttp's response, web.hotpath (the same join served below the router) writes it itself."""
    event = await request_event(request)
    limits = await ratelimit.subjects(request, "join")  # counted by the join's own script, per event
    result = await request.app[WAITING_ROOM].join(event, user_id(request, required=False), limits=limits)
    headers = result.rate_fields or {}
    headers["Content-Type"] = "application/json"  # what responses.json sets, without its layers
    return 201 if result.created else 200, headers, responses.dumps(result.document(event))


@routes.get("/events/{id}/waiting-room/fairness")
@doc("The pre-queue draw's commitment, and after on-sale its salt (docs/internals/waiting-room.md shows how to verify "
     "your place, and how a fan computes it from the draw). Once revealed it never changes: Cache-Control public, "
     "max-age=3600; before, public, no-cache; ETag; 304",
     tags=["waiting room"], response=FairnessResponse,
     responses={304: "Not modified since the ETag in If-None-Match", 404: "Unknown or draft event", 429: UNKNOWN_EVENT_FLOOD})
async def fairness(request: web.Request) -> web.Response:
    event = await request_event(request)
    return edgecache.respond(request, await request.app[WAITING_ROOM].fairness_answer(event.id))


@routes.get("/events/{id}/waiting-room/fairness/hmacs")
@doc("The drawn pre-queue's HMACs in queue order, a page at a time", tags=["waiting room"],
     query=HmacsQuery, response=HmacsResponse, responses={404: "Unknown or draft event", 429: UNKNOWN_EVENT_FLOOD})
async def fairness_hmacs(request: web.Request) -> web.Response:
    params = query(request, HmacsQuery)
    event = await request_event(request)
    return responses.json(await request.app[WAITING_ROOM].hmacs(event.id, params.offset, params.limit))
