"""The one middleware every request passes: request id, rate limits, problem+json, CORS, timing.

One coroutine instead of five: under wrk a status poll spent about a quarter of its time in
the five separate middlewares (each an extra coroutine, partial and try block per request),
and the request id cost an ``os.urandom`` call. Everything per process that can be computed
once (the CORS origin set and header values, the request-id prefix) is computed when the app
is built. Order of the work, outermost first:

1. the request id (the caller's ``X-Request-Id`` when safe to log, else a new one) is set in
   the log context;
2. CORS preflights are answered; a request body is read under its size and time limits
   (web.bodies); rate-limited commands are checked (web.ratelimit), but for a join, which the
   join's own script counts;
3. the handler runs; any error becomes RFC 9457 problem+json (web.problems, the one place);
4. ``X-Request-Id``, ``X-Content-Type-Options`` and CORS headers are added, and the request's
   latency is counted (web.metrics.TIMINGS).

Modules that need another cross-cutting step add it through web.hooks; it then runs inside
this one (its errors become problem+json, its answers get the headers above).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from models.context import is_safe_request_id, request_id_var
from models.settings import Settings
from web import bodies, problems, ratelimit
from web.appkeys import REQUEST_ID
from web.metrics import TIMINGS, route_label

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CORS_HEADERS = "Authorization, Content-Type, X-User-Id, Idempotency-Key, Prefer, X-Request-Id, If-None-Match"
_CORS_EXPOSE = ("Location, Retry-After, X-Request-Id, Idempotent-Replayed, RateLimit, RateLimit-Policy, "
                "Preference-Applied, ETag")


class RequestIds:
    """Unique request ids without a system call per request: a random per-process prefix and a
    counter (32 hex digits, like the uuid4().hex the logs have always carried)."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFFFFFF:016x}"


def edge_middleware(settings: Settings):
    """The middleware for an app built with ``settings`` (CORS origins are read once, here)."""
    allowed = frozenset(settings.cors_origins)
    any_origin = "*" in allowed
    ids = RequestIds()
    perf_counter = time.perf_counter

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = perf_counter()
        headers = request.headers
        rid = headers.get("X-Request-Id")
        if rid is None or not is_safe_request_id(rid):
            rid = ids.new()
        request[REQUEST_ID] = rid
        context = request_id_var.set(rid)
        origin = headers.get("Origin")
        cors = origin is not None and (any_origin or origin in allowed)
        method = request.method
        try:
            if cors and method == "OPTIONS" and "Access-Control-Request-Method" in headers:
                response: web.StreamResponse = web.Response(status=204)
            elif request.body_exists and (refused := await bodies.read_body(request)) is not None:
                response = refused
            else:
                scope = ratelimit.scope_of(request) if method == "POST" else None
                # A join is counted by its own script (one Redis call: web/handlers/waiting_room.py).
                if scope is None or scope == "join":
                    response = await handler(request)
                else:
                    response = await ratelimit.limited(request, handler, scope)
        except web.HTTPException as exc:
            if exc.status >= 400:
                response = problems.from_http_exception(exc, request)
            else:  # a redirect: aiohttp sends it; it still gets our headers and is timed
                _finish(exc, rid, origin if cors else None, method)
                TIMINGS.observe(method, route_label(request), exc.status, perf_counter() - started)
                raise
        except Exception as exc:  # noqa: BLE001 - web.problems decides: a known error or a logged bug
            response = problems.from_exception(exc, request)
        finally:
            request_id_var.reset(context)
        _finish(response, rid, origin if cors else None, method)
        TIMINGS.observe(method, route_label(request), response.status, perf_counter() - started)
        return response

    return edge


def _finish(response: web.StreamResponse, rid: str, origin: str | None, method: str) -> None:
    h = response.headers
    h["X-Request-Id"] = rid
    if "X-Content-Type-Options" not in h:
        h["X-Content-Type-Options"] = "nosniff"
    if origin is not None:
        h["Access-Control-Allow-Origin"] = origin
        vary = h.get("Vary")
        h["Vary"] = f"{vary}, Origin" if vary and "Origin" not in vary else (vary or "Origin")
        h["Access-Control-Allow-Credentials"] = "true"
        h["Access-Control-Expose-Headers"] = _CORS_EXPOSE
        if method == "OPTIONS":
            h["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
            h["Access-Control-Allow-Headers"] = _CORS_HEADERS
            h["Access-Control-Max-Age"] = "600"
