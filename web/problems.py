"""The one place that turns errors into RFC 9457 application/problem+json responses.

Domain errors name the input they are about by its logical name (``id``, ``token``, ``user``,
``idempotency_key``...); :func:`locate` says where in the HTTP request that input was, so the
problem names ``path.id``, ``query.token``, ``header.X-User-Id`` as the API documents.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from typing import Any

import peewee
import redis.exceptions
from aiohttp import web

from models import errors
from web.appkeys import REQUEST_ID
from web.responses import dumps

log = logging.getLogger("ticketdrop.web")

#: aiohttp's own HTTP errors (unknown route, wrong method, body too large) as ours.
_HTTP_TO_DOMAIN: dict[int, type[errors.TicketDropError]] = {
    400: errors.InvalidInput,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
    429: errors.RateLimited,
}


#: Logical inputs that travel in a header, and that header.
HEADER_INPUTS = {
    "user": "X-User-Id",
    "idempotency_key": "Idempotency-Key",
    "bearer_token": "Authorization",
}
#: Logical inputs a route may take in its path, its query or its body (found in that order).
ROUTE_INPUTS = frozenset({"id", "code", "token"})


def located(err: errors.TicketDropError) -> errors.TicketDropError:
    """Mark ``err`` as naming its fields by their place already (the web tier's own parse errors,
    whose body paths may be named ``token`` or ``id`` too): :func:`locate` leaves them alone."""
    err.located = True  # type: ignore[attr-defined]
    return err


def locate(field: str, request: web.Request | None) -> str:
    """Where the logical input ``field`` was in ``request``: ``header.X``, ``path.x``, ``query.x``
    or ``body.x``; any other field (a dotted body path, or one already located) stays as it is."""
    header = HEADER_INPUTS.get(field)
    if header is not None:
        return f"header.{header}"
    if field not in ROUTE_INPUTS:
        return field
    if request is not None and field in request.match_info:
        return f"path.{field}"
    if request is not None and field in request.query:
        return f"query.{field}"
    return f"body.{field}"


def translate(exc: BaseException) -> errors.TicketDropError | None:
    """Map a lower-level exception to a domain error, or None if it is a bug."""
    if isinstance(exc, errors.TicketDropError):
        return exc
    if isinstance(exc, web.HTTPException) and exc.status >= 400:
        cls = _HTTP_TO_DOMAIN.get(exc.status)
        if cls is not None:
            detail = {404: "No such route", 405: "Method not allowed on this route", 413: "Body is over the size limit"}.get(exc.status, exc.reason)
            return cls(detail)
    if isinstance(exc, ValueError) and "NUL (0x00)" in str(exc):
        # psycopg2 refuses NUL in text before sending it: text rules should stop it first (web/schemas/text.py).
        return errors.InvalidInput("A text value contains a NUL character")
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return errors.Unavailable("Redis is unavailable", retry_after=2, service="redis")
    if isinstance(exc, (peewee.OperationalError, peewee.InterfaceError, sqlite3.OperationalError)):
        return errors.Unavailable("The database is unavailable or busy", retry_after=1, service="database")
    return None


def problem_body(err: errors.TicketDropError, request: web.Request | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{err.code}",
        "title": err.title,
        "status": err.status,
        "detail": err.detail,
        "code": err.code,
    }
    if request is not None:
        body["instance"] = request.path
        rid = request.get(REQUEST_ID)
        if rid:
            body["request_id"] = rid
    if err.errors and getattr(err, "located", False):
        body["errors"] = err.errors
    elif err.errors:
        body["errors"] = [{**e, "field": locate(e["field"], request)} if "field" in e else e for e in err.errors]
    for key, value in err.extra.items():
        body.setdefault(key, value)
    return body


def problem_response(err: errors.TicketDropError, request: web.Request | None = None) -> web.Response:
    headers = dict(err.headers)
    if err.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(err.retry_after)))
    return web.Response(
        body=dumps(problem_body(err, request)),
        status=err.status,
        content_type="application/problem+json",
        headers=headers,
    )


def from_http_exception(exc: web.HTTPException, request: web.Request) -> web.Response:
    """aiohttp's own 4xx/5xx (unknown route, wrong method, body too large) as problem+json."""
    err = translate(exc)
    if err is None:
        err = errors.TicketDropError(exc.reason)
        err.status = exc.status
    resp = problem_response(err, request)
    if exc.status == 405 and "Allow" in exc.headers:
        resp.headers["Allow"] = exc.headers["Allow"]
    return resp


def from_exception(exc: Exception, request: web.Request) -> web.Response:
    """Any other exception: a domain error's problem, 503 for a backing service, else a logged 500."""
    if isinstance(exc, web.HTTPException):
        return from_http_exception(exc, request)
    err = translate(exc)
    if err is None:
        log.exception("unhandled error", extra={"request_id": request.get(REQUEST_ID), "path": request.path})
        err = errors.TicketDropError("An unexpected error occurred; it has been logged")
    elif isinstance(err, errors.Unavailable):
        log.warning("backing service unavailable: %s", exc, extra={"request_id": request.get(REQUEST_ID)})
    return problem_response(err, request)


@web.middleware
async def problem_middleware(request: web.Request, handler):
    """The same mapping as a middleware of its own (for small apps and tests; the web app's
    edge step, web.middleware, calls :func:`from_http_exception` / :func:`from_exception` itself)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return from_http_exception(exc, request)
    except Exception as exc:  # noqa: BLE001 - this is the one place every error ends
        return from_exception(exc, request)
