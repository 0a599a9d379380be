"""Reservations and availability. Thin: parse, call models.reservations / models.inventory, render."""

from __future__ import annotations

from functools import partial
from typing import Any

from aiohttp import web

from models import inventory
from models.commands import commands, off_loop
from models.errors import Conflict, EventNotOnSale, LimitExceeded, SoldOut, TicketDropError
from models.keys import reservation_id
from models.reservations import service
from models.reservations.kick import claim_kick
from web import outcomes, responses
from web.appkeys import KEYS, REDIS, REQUEST_ID, SETTINGS
from web.dbexec import run_db
from web.openapi import UNKNOWN_EVENT_FLOOD, doc
from web.parse import json_body, path_uuid, prefer_wait, user_id
from web.pipelining import script_runner
from web.problems import problem_response
from web.schemas.reservations import AvailabilityView, ReservationCreate, ReservationView
from web.snapshots import event_snapshot, request_event

routes = web.RouteTableDef()

_PREFER = [{"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "wait=N (N <= 10): wait up to N seconds for the decision (RFC 7240)"}]
#: Rejection reason -> the problem it is rendered as (409 either way).
_REJECTIONS: dict[str, type[TicketDropError]] = {
    "sold_out": SoldOut, "limit_exceeded": LimitExceeded, "event_not_on_sale": EventNotOnSale}


@routes.get("/events/{id}/availability")
@doc("Tickets left per tier (capacity - sold - live holds)", tags=["reservations"], response=AvailabilityView,
     responses={404: "Unknown event, draft, or malformed id", 429: UNKNOWN_EVENT_FLOOD})
async def get_availability(request: web.Request) -> web.Response:
    app = request.app
    snapshot = await request_event(request)
    result = await inventory.availability(app[REDIS], app[KEYS], snapshot, partial(run_db, app))
    if result.from_database and await claim_kick(app[REDIS], app[KEYS], snapshot.id, only_with_mail=False):
        await _send_drain(snapshot.id)  # a drainer rebuilds the missing counters
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
    rid = reservation_id(snapshot.id)  # carries the event's Redis Cluster slot (models/keys.py)
    submit = partial(service.submit, app[REDIS], app[KEYS], app[SETTINGS], snapshot, reservation_id=rid, user_id=user,
                     tier_id=str(body.tier_id), quantity=body.quantity, token=body.token,
                     request_id=request.get(REQUEST_ID), run_blocking=partial(run_db, app),
                     run_script=script_runner(app))
    wait_s = prefer_wait(request)
    if not wait_s:
        return _render(await _submit(submit))
    async with outcomes.waiter(app, rid) as waiter:
        submitted = await _submit(submit)
        if not submitted.created:
            return _render(submitted)
        decided = await waiter.wait(wait_s)
    if decided is None:  # no announcement (timed out, or the listener was reconnecting)
        decided = await service.submitted_outcome(app[REDIS], app[KEYS], rid, user, partial(run_db, app))
    response = _render_decided(request, decided)
    response.headers["Preference-Applied"] = f"wait={wait_s:g}"
    return response


@routes.get("/reservations/{id}")
@doc("A reservation's state (owner only); poll it after a 202", tags=["reservations"], response=ReservationView,
     user_header=True, responses={403: "Another user's reservation", 404: "No such reservation"})
async def get_reservation(request: web.Request) -> web.Response:
    user = user_id(request)
    rid = str(path_uuid(request, "id"))
    app = request.app
    return responses.json(await service.get_reservation(app[REDIS], app[KEYS], rid, user, partial(run_db, app)))


@routes.delete("/reservations/{id}")
@doc("Release a live hold at once (owner only)", tags=["reservations"], response=ReservationView, user_header=True,
     responses={403: "Another user's reservation", 404: "No such reservation",
                409: "Pending, rejected or converted, or its payment is being processed "
                "(payment_in_progress, Retry-After)", 410: "The hold expired"})
async def delete_reservation(request: web.Request) -> web.Response:
    user = user_id(request)
    rid = str(path_uuid(request, "id"))
    app = request.app
    return responses.json(await service.cancel(app[REDIS], app[KEYS], rid, user, partial(run_db, app)))


async def _submit(submit: Any) -> service.Submitted:
    submitted = await submit()
    if submitted.send_drain:
        await _send_drain(submitted.reservation["event_id"])
    return submitted


async def _send_drain(event_id: str) -> None:
    # The broker's client is blocking; a send is rare (one per burst), but keep it off the loop.
    await off_loop(commands().send_drain, event_id)


def _location(reservation: dict[str, Any]) -> dict[str, str]:
    return {"Location": f"/reservations/{reservation['id']}"}


def _render(submitted: service.Submitted) -> web.Response:
    status = 202 if submitted.created else 200
    return responses.json(submitted.reservation, status=status, headers=_location(submitted.reservation))


def _render_decided(request: web.Request, reservation: dict[str, Any]) -> web.Response:
    status = reservation.get("status")
    if status == "held":
        return responses.json(reservation, status=201, headers=_location(reservation))
    if status == "rejected":
        reason = reservation.get("reason") or "rejected"
        error = _REJECTIONS.get(reason, Conflict)(
            f"The reservation was rejected: {reason.replace('_', ' ')}", headers=_location(reservation),
            id=reservation["id"], reason=reason, reservation=reservation)
        if error.code == Conflict.code:
            error.code = reason
        return problem_response(error, request)
    return responses.json(reservation, status=202, headers=_location(reservation))
