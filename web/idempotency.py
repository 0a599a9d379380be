"""Idempotency-Key at the HTTP edge: the one piece every route that honours the header uses.

- :func:`idempotent`: run a route's work once per (user, scope, key): claim the key, run, then
  store a 2xx answer (``complete``) or free the key (``release``) on any other answer or error;
  a repeat gets the stored answer (models/checkout/idempotency.py keeps the records).
- :func:`replay`: a stored answer as a response, also for a route whose service records the key
  in its own transaction (opening a checkout session does).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from pydantic import BaseModel

from models.checkout import idempotency
from web.appkeys import SETTINGS
from web.dbexec import run_db


def key_header(required: bool) -> dict:
    """The OpenAPI description of the header."""
    return {"name": "Idempotency-Key", "in": "header", "required": required,
            "description": "A fresh random value per attempt, reused by its retries (kept IDEMPOTENCY_TTL_S)",
            "schema": {"type": "string", "maxLength": 255}}


def request_key(request: web.Request, *, required: bool) -> str | None:
    """The request's Idempotency-Key. Raises InvalidInput when it is malformed (or required and missing)."""
    return idempotency.parse_key(request.headers.get("Idempotency-Key"), required=required)


async def idempotent(request: web.Request, *, scope: str, user: str, key: str | None, body: BaseModel,
                     location: Callable[[str], str], run: Callable[[], Awaitable[web.Response]]) -> web.Response:
    """Run ``run`` once per (user, scope, key); replay its 2xx response to repeats (no key: just run)."""
    if key is None:
        return await run()
    app = request.app
    request_hash = idempotency.fingerprint(request.method, request.path, body.model_dump(mode="json"))
    claim = await run_db(app, idempotency.claim, user_id=user, scope=scope, key=key, request_hash=request_hash,
                         ttl_s=app[SETTINGS].idempotency_ttl_s)
    if isinstance(claim, idempotency.Replay):
        return replay(claim, location)
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


def replay(stored: idempotency.Replay, location: Callable[[str], str]) -> web.Response:
    """The stored answer, marked ``Idempotent-Replayed``, with the Location of the resource it names."""
    rid = orjson.loads(stored.body).get("id")
    headers = {"Idempotent-Replayed": "true", **({"Location": location(rid)} if rid else {})}
    return web.Response(body=stored.body.encode(), status=stored.status, content_type="application/json", headers=headers)
