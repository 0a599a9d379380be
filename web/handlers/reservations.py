"""Reservations and availability. Thin: parse, one call of the ReservationService (web.appkeys.RESERVATIONS), render."""

from __future__ import annotations

from aiohttp import web

from models.reservations.service import Submitted, rejection, reservation_location
from web import responses
from web.appkeys import OUTCOMES, REQUEST_ID, RESERVATIONS
from web.openapi import UNKNOWN_EVENT_FLOOD, doc
from web.parse import json_body, path_uuid, prefer_wait, user_id
from web.problems import problem_response
from web.schemas.reservations import AvailabilityView, ReservationCreate, ReservationView
from web.snapshots import event_snapshot, request_event

routes = web.RouteTableDef()

_PREFER = [{"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "wait=N (N <= 10): wait up to N seconds for the decision (RFC 7240)"}]


@routes.get("/events/{id}/availability")
@doc("Tickets left per tier (capacity - sold - live holds)", tags=["reservations"], response=AvailabilityView,
     responses={404: "Unknown event, draft, or malformed id", 429: UNKNOWN_EVENT_FLOOD})
async def get_availability(request: web.Request) -> web.Response:
    snapshot = await request_event(request)
    result = await request.app[RESERVATIONS].availability(snapshot)
    return responses.json({"event_id": snapshot.id, "tiers": result.tiers})


@routes.post("/events/{id}/reservations")
@doc("Ask for a hold on tickets of one tier (decided in arrival order by the event's drainer)", tags=["reservations"],
     body=ReservationCreate, response=ReservationView, status=202, user_header=True, headers=_PREFER,
     responses={200: "Your existing live reservation", 201: "Held (with Prefer: wait)",
                403: "Token unknown, of another event or user, not admitted, or admission expired",
                404: "Unknown event or tier", 409: "Paused, not on sale, over the per-event limit, or rejected "
                "(with Prefer: wait)", 422: "Malformed body or quantity over the tier's limit", 429: UNKNOWN_EVENT_FLOOD,
                503: "A backing service is down, the waiting room is being restored, or (with Prefer: wait) the "
                "request was lost in a fault before it was decided: nothing is held, send it again"})
async def create_reservation(request: web.Request) -> web.Response:
    app = request.app
    user = user_id(request)
    event_id = path_uuid(request, "id")
    body = await json_body(request, ReservationCreate)
    snapshot = await event_snapshot(app, event_id, public=True, request=request)
    wait_s = prefer_wait(request)
    submitted = await app[RESERVATIONS].submit(
        snapshot, user_id=user, tier_id=str(body.tier_id), quantity=body.quantity, token=body.token,
        request_id=request.get(REQUEST_ID), waiter=app[OUTCOMES].waiter, wait_s=wait_s)
    if not wait_s or not submitted.created:
        return _render(submitted)
    response = _render_decided(request, submitted.reservation)
    response.headers["Preference-Applied"] = f"wait={wait_s:g}"
    return response


@routes.get("/reservations/{id}")
@doc("A reservation's state (owner only); poll it after a 202", tags=["reservations"], response=ReservationView,
     user_header=True, responses={403: "Another user's reservation", 404: "No such reservation"})
async def get_reservation(request: web.Request) -> web.Response:
    user = user_id(request)
    rid = str(path_uuid(request, "id"))
    return responses.json(await request.app[RESERVATIONS].get(rid, user))


@routes.delete("/reservations/{id}")
@doc("Release a live hold at once (owner only)", tags=["reservations"], response=ReservationView, user_header=True,
     responses={403: "Another user's reservation", 404: "No such reservation",
                409: "Pending, rejected or converted, or its payment is being processed "
                "(payment_in_progress, Retry-After)", 410: "The hold expired"})
async def delete_reservation(request: web.Request) -> web.Response:
    user = user_id(request)
    rid = str(path_uuid(request, "id"))
    return responses.json(await request.app[RESERVATIONS].cancel(rid, user))


def _render(submitted: Submitted) -> web.Response:
    status = 202 if submitted.created else 200
    reservation = submitted.reservation
    return responses.json(reservation, status=status, headers={"Location": reservation_location(reservation["id"])})


def _render_decided(request: web.Request, reservation: dict) -> web.Response:
    """A decided reservation: 201 held, the rejection's problem, else (still pending) 202."""
    if reservation.get("status") == "rejected":
        return problem_response(rejection(reservation), request)
    status = 201 if reservation.get("status") == "held" else 202
    return responses.json(reservation, status=status, headers={"Location": reservation_location(reservation["id"])})
