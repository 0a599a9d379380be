"""The edge step every request passes: request id, body limits, rate limits, problem+json, CORS,
security headers, timing. It wraps each route's handler; the app has no aiohttp middleware.

One coroutine instead of five: under wrk a status poll spent about a quarter of its time in
the five separate middlewares (each an extra coroutine, partial and try block per request),
and the request id cost an ``os.urandom`` call. It is not an aiohttp middleware either: an app
with any middleware makes aiohttp build (and look up, hashing the apps tuple) the middleware
chain for every request, and add a middleware of its own (``_fix_request_current_app``), a few
microseconds per request for nothing. So :func:`seal` wraps every route's handler once, when the
app starts (after every route is in, right before aiohttp freezes the router): the wrapper knows
its route's metrics label and whether the edge counts its rate limits, so neither is looked up
per request. Requests no route takes (404, 405, a CORS preflight) go to :class:`Unrouted`, the
router's last resource, whose handler is wrapped the same way. Order of the work, outermost first:

1. the request id (the caller's ``X-Request-Id`` when safe to log, else a new one) is set in
   the log context;
2. CORS preflights are answered; a request body is read under its size and time limits
   (web.bodies); rate-limited commands are checked (web.ratelimit), but for routes whose
   handler counts its own limits (the join, in its one Redis script);
3. the handler runs; any error becomes RFC 9457 problem+json (web.problems, the one place);
4. a private route's answer, errors included, is marked ``no-store`` with ``Vary: X-User-Id,
   Authorization`` (web.caching: a flag per route, decided here, so public routes pay nothing);
   ``X-Request-Id``, ``X-Content-Type-Options`` and CORS headers are added, and the request's
   latency is counted (web.metrics.TIMINGS).

The status and progress polls and the join (the floods of a drop) are served below the router by
web.hotpath, with this module's rules and headers (:class:`EdgeRules`, :func:`edge_headers`), when
nothing else wraps their handlers.

Modules that need another cross-cutting step add it through web.hooks (and identity's JWKS
refresh is one): those are middlewares in aiohttp's form, chained around each handler once, at
start, inside this step (their errors become problem+json, their answers get the headers above).
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from aiohttp import hdrs, web
from aiohttp.web_urldispatcher import AbstractRoute, UrlMappingMatchInfo
from multidict import istr

from models.context import is_safe_request_id, request_id_var
from models.settings import Settings
from web import bodies, caching, hooks, identity, problems, ratelimit
from web.appkeys import REQUEST_ID, SETTINGS
from web.metrics import TIMINGS, UNMATCHED
from web.resources import RoutelessResource

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Header names the edge reads or writes on every request, as multidict's case-insensitive
#: strings: a plain str is lower-cased and hashed again on every lookup (about 20 ns each).
_X_REQUEST_ID = istr("X-Request-Id")
_X_CONTENT_TYPE_OPTIONS = istr("X-Content-Type-Options")
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
        # printf-style: a fifth less than the same digits through an f-string's format spec
        return "%s%016x" % (self._prefix, next(self._counter) & 0xFFFFFFFFFFFFFFFF)  # noqa: UP031


class EdgeRules:
    """What the edge decides from a request's headers alone, for an app built with ``settings``
    (CORS origins read once, here): shared by the edge step and web.hotpath."""

    def __init__(self, settings: Settings) -> None:
        self._allowed = frozenset(settings.cors_origins)
        self._any_origin = "*" in self._allowed
        self._ids = RequestIds()

    def request_id(self, headers: Any) -> str:
        """The caller's ``X-Request-Id`` when safe to log, else a new one."""
        rid = headers.get(_X_REQUEST_ID)
        return rid if rid is not None and is_safe_request_id(rid) else self._ids.new()

    def cors_origin(self, headers: Any) -> str | None:
        """The request's ``Origin`` if CORS headers answer it (an allowed origin), else None."""
        origin = headers.get(hdrs.ORIGIN)
        return origin if origin is not None and (self._any_origin or origin in self._allowed) else None


def edge_step(settings: Settings) -> Callable[..., Handler]:
    """``wrap(handler, *, label, scope, private=False)``: ``handler`` inside the edge step of an
    app built with ``settings``. ``label`` is the route's metrics label; ``scope`` the rate-limit
    scope the edge counts before the handler (None: none); ``private``: every answer, errors
    included, is marked private (web.caching)."""
    rules = EdgeRules(settings)
    request_id, cors_origin = rules.request_id, rules.cors_origin
    private_headers = caching.private_headers
    perf_counter = time.perf_counter
    observe = TIMINGS.observe

    def wrap(handler: Handler, *, label: str, scope: str | None, private: bool = False) -> Handler:
        async def edge(request: web.Request) -> web.StreamResponse:
            started = perf_counter()
            headers = request.headers
            rid = request[REQUEST_ID] = request_id(headers)
            context = request_id_var.set(rid)
            origin = cors_origin(headers)
            cors = origin is not None
            method = request.method
            try:
                if cors and method == "OPTIONS" and "Access-Control-Request-Method" in headers:
                    response: web.StreamResponse = web.Response(status=204)
                elif request.body_exists and (refused := await bodies.read_body(request)) is not None:
                    response = refused
                elif scope is None:
                    response = await handler(request)
                else:
                    response = await ratelimit.limited(request, handler, scope)
            except web.HTTPException as exc:
                if exc.status >= 400:
                    response = problems.from_http_exception(exc, request)
                else:  # a redirect: aiohttp sends it; it still gets our headers and is timed
                    if private:
                        private_headers(exc.headers)
                    edge_headers(exc.headers, rid, origin, method)
                    observe(method, label, exc.status, perf_counter() - started)
                    raise
            except Exception as exc:  # noqa: BLE001 - web.problems decides: a known error or a logged bug
                response = problems.from_exception(exc, request)
            finally:
                request_id_var.reset(context)
            if private:
                private_headers(response.headers)
            edge_headers(response.headers, rid, origin, method)
            observe(method, label, response.status, perf_counter() - started)
            return response

        return functools.update_wrapper(edge, handler)  # keeps __openapi__ and the name for the document

    return wrap


def edge_headers(h: MutableMapping[str, str], rid: str, origin: str | None, method: str) -> None:
    """Add the edge's headers to an answer's headers ``h`` (a response's, or the plain dict
    web.hotpath writes out): the request id, ``nosniff``, and the CORS headers when ``origin`` is
    an allowed one (preflight headers for OPTIONS)."""
    h[_X_REQUEST_ID] = rid
    if _X_CONTENT_TYPE_OPTIONS not in h:
        h[_X_CONTENT_TYPE_OPTIONS] = "nosniff"
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


def chain(handler: Handler, middlewares: Iterable[Any]) -> Handler:
    """``handler`` inside ``middlewares`` (aiohttp's new-style form; the first is outermost), as
    aiohttp would run them, built once."""
    for middleware in reversed(list(middlewares)):
        handler = functools.update_wrapper(functools.partial(middleware, handler=handler), handler)
    return handler


#: The request key :class:`Unrouted` sets while it asks the router what a request missed.
_REROUTING = web.RequestKey("rerouting", bool)


class _UnroutedRoute(AbstractRoute):
    """The route of requests no route takes: no resource (its metrics label is ``unmatched``)."""

    def __init__(self, handler: Handler) -> None:
        super().__init__("*", handler)

    @property
    def name(self) -> str | None:
        return None

    def url_for(self, *args: str, **kwargs: str) -> Any:
        raise RuntimeError("no URL leads to the unrouted route")

    def get_info(self) -> dict:
        return {}


class Unrouted(RoutelessResource):
    """The router's last resource: it takes every request no route does, so that the edge step
    answers those too (404 and 405 as problem+json with our headers, CORS preflights, 413).

    It is indexed under ``/``, the last place the router looks for any path, and registered after
    every route. It lists no routes (``router.routes()``, the OpenAPI document and the route tests
    do not see it). Its handler asks the router again, with this resource stepping aside, and
    raises what the router would have: 404, or 405 with the ``Allow`` the router collected."""

    what = "the unrouted resource"

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self._route = _UnroutedRoute(handler)

    @staticmethod
    async def handle(request: web.Request) -> web.StreamResponse:
        request[_REROUTING] = True
        match = await request.app.router.resolve(request)
        raise getattr(match, "http_exception", None) or web.HTTPNotFound()

    @property
    def canonical(self) -> str:
        return "/"

    async def resolve(self, request: web.Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        if _REROUTING in request:
            return None, set()
        return UrlMappingMatchInfo({}, self._route), set()


def seal(app: web.Application) -> None:
    """Wrap every route's handler in the edge step (and the hooks' and identity's middlewares),
    private routes' answers marked so (web.caching.is_private), and add :class:`Unrouted` last.
    Runs once, as the app starts (an on_startup hook): every
    route is in by then, including those a test or an operator added after create_app, and
    aiohttp freezes the router right after."""
    settings = app[SETTINGS]
    wrap = edge_step(settings)
    middlewares = [*hooks.outer_middlewares(), *hooks.inner_middlewares(), *identity.middlewares(settings)]
    for route in app.router.routes():
        label = route.resource.canonical if route.resource is not None else UNMATCHED
        handler = wrap(chain(route.handler, middlewares), label=label, scope=ratelimit.edge_scope(route.method, label),
                       private=caching.is_private(route.handler))
        route._handler = handler  # aiohttp has no public setter; the route tests fail if this stops working
    app.router.register_resource(Unrouted(wrap(chain(Unrouted.handle, middlewares), label=UNMATCHED, scope=None)))


async def seal_on_startup(app: web.Application) -> None:
    seal(app)
