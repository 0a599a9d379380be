"""Checkout: open a session (Idempotency-Key required), confirm it (key honoured when sent),
read it, list orders. Payments are decided by the workers; ``Prefer: wait=N`` waits for them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from pydantic import BaseModel

from models import checkout
from models.checkout import idempotency
from models.commands import commands, off_loop
from models.errors import Conflict, EventNotOnSale, Gone, NotFound
from models.reservations.holds import apply_transition
from web import outcomes, responses
from web.appkeys import KEYS, REDIS, SETTINGS
from web.dbexec import run_db
from web.openapi import doc
from web.parse import json_body, path_uuid, prefer_wait, user_id
from web.pipelining import command_runner
from web.schemas.checkout import CheckoutSession, ConfirmRequest, OrderList, SessionCreate

routes = web.RouteTableDef()
TAGS = ["checkout"]
CONFIRM_SCOPE = "POST /checkout/confirm"


def _key_header(required: bool) -> dict:
    return {"name": "Idempotency-Key", "in": "header", "required": required,
            "description": "A fresh random value per attempt, reused by its retries (kept IDEMPOTENCY_TTL_S)",
            "schema": {"type": "string", "maxLength": 255}}


PREFER_HEADER = {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string", "example": "wait=5"}}


async def _idempotent(request: web.Request, *, scope: str, user: str, key: str | None, body: BaseModel,
                      run: Callable[[], Awaitable[web.Response]]) -> web.Response:
    """Run ``run`` once per (user, scope, key); replay its 2xx response to repeats (see idempotency)."""
    if key is None:
        return await run()
    app = request.app
    request_hash = idempotency.fingerprint(request.method, request.path, body.model_dump(mode="json"))
    claim = await run_db(app, idempotency.claim, user_id=user, scope=scope, key=key, request_hash=request_hash,
                         ttl_s=app[SETTINGS].idempotency_ttl_s)
    if isinstance(claim, idempotency.Replay):
        return _replay(claim)
    try:
        response = await run()
    except Exception:
        await run_db(app, idempotency.release, claim)
        raise
    if 200 <= response.status < 300:
        await run_db(app, idempotency.complete, claim, response.status, response.body.decode())
    else:
        await run_db(app, idempotency.release, claim)
    return response


def _replay(replay: idempotency.Replay) -> web.Response:
    location = orjson.loads(replay.body).get("id")
    headers = {"Idempotent-Replayed": "true", **({"Location": checkout.session_location(location)} if location else {})}
    return web.Response(body=replay.body.encode(), status=replay.status, content_type="application/json", headers=headers)


def _session_response(document: dict, status: int = 200) -> web.Response:
    return responses.json(document, status=status, headers={"Location": checkout.session_location(document["id"])})


def _decided(document: dict) -> web.Response:
    """A confirm's answer once the worker decided: 200 paid, 409 failed, 410 expired, else 202."""
    reason = document.get("failure_reason") or ""
    if document["status"] == "failed" and reason == "event_not_on_sale":
        raise EventNotOnSale("The sale of this event has ended; nothing was charged and the hold is released",
                             reason=reason, checkout=document)
    if document["status"] == "failed":
        raise Conflict("The payment failed; the tickets are back on sale", reason="payment_failed", checkout=document)
    if document["status"] == "expired" and reason.startswith("reservation_"):
        raise Conflict("The reservation was released before payment; nothing was charged", reason=reason,
                       checkout=document)
    if document["status"] == "expired":
        raise Gone("The hold expired before payment; nothing was charged", reason="hold_expired", checkout=document)
    return _session_response(document, 200 if document["status"] == "paid" else 202)


@routes.post("/checkout/sessions")
@doc("Open (or get back) the checkout session of a held reservation", tags=TAGS, body=SessionCreate,
     response=CheckoutSession, status=201, user_header=True, headers=[_key_header(True)],
     responses={200: "The reservation's existing session", 400: "Missing X-User-Id or Idempotency-Key",
                404: "No such reservation of yours", 409: "Reservation pending (Retry-After), rejected or released; "
                "the event canceled or closed (event_not_on_sale); or the same key is in flight (Retry-After)",
                410: "The hold expired",
                422: "Bad body, or the key was used with a different body"})
async def create_session(request: web.Request) -> web.Response:
    app = request.app
    user = user_id(request)
    key = idempotency.parse_key(request.headers.get("Idempotency-Key"), required=True)
    body = await json_body(request, SessionCreate)

    try:
        opened = await run_db(app, checkout.open_session, user_id=user, reservation_id=body.reservation_id,
                              idempotency_key=key, ttl_s=app[SETTINGS].idempotency_ttl_s)
    except NotFound:
        await checkout.raise_if_pending(app[REDIS], app[KEYS], body.reservation_id, user)
        raise
    if isinstance(opened, idempotency.Replay):
        return _replay(opened)
    return web.Response(body=opened.body.encode(), status=201 if opened.created else 200, content_type="application/json",
                        headers={"Location": checkout.session_location(opened.document["id"])})


@routes.post("/checkout/confirm")
@doc("Pay for a checkout session (simulated payment); 202 + Location, or the outcome with Prefer: wait=N",
     tags=TAGS, body=ConfirmRequest, response=CheckoutSession, status=202, user_header=True,
     headers=[_key_header(False), PREFER_HEADER],
     responses={200: "Already paid (or paid within the Prefer: wait time)", 404: "No such session of yours",
                409: "Payment failed, already processing with another outcome, reservation released, the event "
                "canceled or closed (event_not_on_sale: nothing charged, the hold released), or the same "
                "key in flight", 410: "The hold expired: nothing charged", 422: "Bad body, or key reused with another body"})
async def confirm(request: web.Request) -> web.Response:
    app = request.app
    user = user_id(request)
    key = idempotency.parse_key(request.headers.get("Idempotency-Key"), required=False)
    body = await json_body(request, ConfirmRequest)

    async def run() -> web.Response:
        wait_s = prefer_wait(request)
        if not wait_s:
            start = await _begin_confirm(app, user, body)
            return _session_response(start.document, 202 if start.document["status"] == "processing" else 200)
        # Registered before the session can move: an outcome published after our read is not missed.
        async with outcomes.waiter(app, str(body.checkoutId)) as w:
            start = await _begin_confirm(app, user, body)
            if start.document["status"] != "processing":
                return _session_response(start.document)  # paid already: the same result again
            outcome = await w.wait(wait_s)
        if outcome is None:
            return _session_response(start.document, 202)
        document = outcome.get("document") or await run_db(app, checkout.get_session_document, user, start.document["id"])
        return _decided(document)

    return await _idempotent(request, scope=CONFIRM_SCOPE, user=user, key=key, body=body, run=run)


async def _begin_confirm(app: web.Application, user: str, body: ConfirmRequest) -> checkout.ConfirmStart:
    """Record the confirm (one transaction), then make sure a settle message is on its way."""
    start = await run_db(app, checkout.begin_confirm, user_id=user, session_id=body.checkoutId, simulate=body.simulate)
    if start.lapsed is not None:
        await off_loop(commands().send_expire_checkout, start.document["id"])
        raise start.lapsed
    if start.refused is not None:
        if start.ended_hold is not None:
            await apply_transition(app[REDIS], app[KEYS], start.ended_hold)
        raise start.refused
    if start.enqueue and await checkout.claim_settle(app[REDIS], app[KEYS], start.event_id, command=command_runner(app)):
        await off_loop(commands().send_settle, start.event_id)
    return start


def _settling(document: dict) -> bool:
    """Still changing: the payment is undecided, or the tickets are not all issued yet."""
    return document["status"] == "processing" or (document["status"] == "paid" and len(document["tickets"]) < document["quantity"])


@routes.get("/checkout/sessions/{id}")
@doc("A checkout session of yours: status, order_id and tickets once issued (Prefer: wait=N waits for changes)",
     tags=TAGS, response=CheckoutSession, user_header=True, headers=[PREFER_HEADER],
     responses={400: "Missing X-User-Id", 404: "No such session of yours"})
async def get_session(request: web.Request) -> web.Response:
    app = request.app
    sid = str(path_uuid(request, "id"))
    user = user_id(request)
    document = await run_db(app, checkout.get_session_document, user, sid)
    wait_s = prefer_wait(request)
    if wait_s and _settling(document):
        async with outcomes.waiter(app, sid) as w:
            # Read again once registered: an outcome published before that is not missed.
            document = await run_db(app, checkout.get_session_document, user, sid)
            if _settling(document) and await w.wait(wait_s) is not None:
                document = await run_db(app, checkout.get_session_document, user, sid)
    return _session_response(document)


@routes.get("/me/orders")
@doc("Your orders, newest first", tags=TAGS, response=OrderList, user_header=True, responses={400: "Missing X-User-Id"})
async def my_orders(request: web.Request) -> web.Response:
    return responses.json(await run_db(request.app, checkout.user_orders, user_id(request)))
