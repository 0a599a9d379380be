"""Checkout: open a session (Idempotency-Key required), confirm it (key honoured when sent),
read it, list orders. Payments are decided by the workers; ``Prefer: wait=N`` waits for them."""

from __future__ import annotations

from aiohttp import web

from models.checkout.documents import session_location
from models.checkout.idempotency import Replay
from web import responses
from web.appkeys import CHECKOUT, OUTCOMES
from web.idempotency import idempotent, key_header, replay, request_key
from web.openapi import doc
from web.parse import json_body, path_uuid, prefer_wait, user_id
from web.schemas.checkout import CheckoutSession, ConfirmRequest, OrderList, SessionCreate

routes = web.RouteTableDef()
TAGS = ["checkout"]
CONFIRM_SCOPE = "POST /checkout/confirm"


PREFER_HEADER = {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string", "example": "wait=5"}}


def _session_response(document: dict, status: int = 200) -> web.Response:
    return responses.json(document, status=status, headers={"Location": session_location(document["id"])})


@routes.post("/checkout/sessions")
@doc("Open (or get back) the checkout session of a held reservation", tags=TAGS, body=SessionCreate,
     response=CheckoutSession, status=201, user_header=True, headers=[key_header(True)],
     responses={200: "The reservation's existing session", 400: "Missing X-User-Id or Idempotency-Key",
                404: "No such reservation of yours", 409: "Reservation pending (Retry-After), rejected or released; "
                "the event canceled or closed (event_not_on_sale); or the same key is in flight (Retry-After)",
                410: "The hold expired",
                422: "Bad body, or the key was used with a different body"})
async def create_session(request: web.Request) -> web.Response:
    user = user_id(request)
    key = request_key(request, required=True)
    body = await json_body(request, SessionCreate)
    opened = await request.app[CHECKOUT].open(user_id=user, reservation_id=body.reservation_id, idempotency_key=key)
    if isinstance(opened, Replay):
        return replay(opened, session_location)
    return web.Response(body=opened.body.encode(), status=201 if opened.created else 200, content_type="application/json",
                        headers={"Location": session_location(opened.document["id"])})


@routes.post("/checkout/confirm")
@doc("Pay for a checkout session (simulated payment); 202 + Location, or the outcome with Prefer: wait=N",
     tags=TAGS, body=ConfirmRequest, response=CheckoutSession, status=202, user_header=True,
     headers=[key_header(False), PREFER_HEADER],
     responses={200: "Already paid (or paid within the Prefer: wait time)", 404: "No such session of yours",
                409: "Payment failed, already processing with another outcome, reservation released, the event "
                "canceled or closed (event_not_on_sale: nothing charged, the hold released), or the same "
                "key in flight", 410: "The hold expired: nothing charged", 422: "Bad body, or key reused with another body"})
async def confirm(request: web.Request) -> web.Response:
    app = request.app
    user = user_id(request)
    key = request_key(request, required=False)
    body = await json_body(request, ConfirmRequest)

    async def run() -> web.Response:
        wait_s = prefer_wait(request)
        document = await app[CHECKOUT].confirm(user_id=user, session_id=body.checkoutId, simulate=body.simulate,
                                               waiter=app[OUTCOMES].waiter, wait_s=wait_s)
        return _session_response(document, 202 if document["status"] == "processing" else 200)

    return await idempotent(request, scope=CONFIRM_SCOPE, user=user, key=key, body=body, location=session_location,
                            run=run)


@routes.get("/checkout/sessions/{id}")
@doc("A checkout session of yours: status, order_id and tickets once issued (Prefer: wait=N waits for changes)",
     tags=TAGS, response=CheckoutSession, user_header=True, headers=[PREFER_HEADER],
     responses={400: "Missing X-User-Id", 404: "No such session of yours"})
async def get_session(request: web.Request) -> web.Response:
    sid = str(path_uuid(request, "id"))
    user = user_id(request)
    document = await request.app[CHECKOUT].session(user, sid, request.app[OUTCOMES].waiter, prefer_wait(request))
    return _session_response(document)


@routes.get("/me/orders")
@doc("Your orders, newest first", tags=TAGS, response=OrderList, user_header=True, responses={400: "Missing X-User-Id"})
async def my_orders(request: web.Request) -> web.Response:
    return responses.json(await request.app[CHECKOUT].orders(user_id(request)))
