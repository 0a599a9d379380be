"""The waiting room's floods served below aiohttp's Application (issue 14): the progress poll,
the status poll and the join.

Why: the polls are the flood of a drop (every waiting fan's browser reads the room's progress
every 2 s, and its own status when that may have changed: frontend/js/views/room.js), the join
its first wave (every fan, at once, as the on-sale nears). After four passes over our own code
the status poll still cost about twice the trivial aiohttp handler's web CPU (1M room, one
process: 79 µs for a first poll, 70 for a repeat poll against 42), spread 1-3 µs a piece over
the router's resolve, ``Application._handle``, the edge step's coroutine, building the
response's header multidict and aiohttp's prepare/serialize/write steps; the progress poll and
the join paid the same steps. A request for one of :data:`ROUTES`
(``/events/<id>/waiting-room/status`` and ``.../progress``, GET or HEAD; ``.../join``, POST; no
body) skips the router and ``Application._handle``, runs the edge step's work inline, and its
answer goes out as one bytes object written straight to aiohttp's stream writer. Everything else
goes to ``Application._handle`` as before. Measured in docs/benchmarks.md ("The status poll
below the router", "The join below the router", "The progress poll below the router").

What it keeps, each asserted against the usual path byte for byte by
tests/unit/web/test_hotpath.py: the route's answer before HTTP (web.handlers.waiting_room's
``status_parts``, ``progress_parts`` and ``join_parts``, which the usual handlers send through
aiohttp's response): 200 / 304 with ETag, Cache-Control and Vary, HEAD without a body; 201 / 200
with the RateLimit fields; a private route's marks (web.caching: the join's answers, errors
included, are ``no-store`` with ``Vary: X-User-Id, Authorization``); the edge's headers from
web.middleware.edge_headers (X-Request-Id, the caller's when safe; nosniff; CORS for allowed
origins), errors as problem+json (web.problems, then the same marks and headers: 404, 409, 429
with Retry-After and the RateLimit fields), the route's latency in web.metrics.TIMINGS under its
own label, keep-alive and ``Connection`` as aiohttp writes them, aiohttp's ``Date`` and
``Server``. What it leaves to the usual path: everything it does not recognise, a request with a
body (chunked included: the edge's body limits), an ``Expect`` header, an id with ``%``
(web.eventroutes unquotes it), preflights (OPTIONS).

HOT_PATH=false (models.settings) turns it off for every route. Otherwise it installs itself only
when nothing else must run around a route's handler (:func:`refusal` for the app,
:func:`route_refusal` for each route; a route refused there takes the usual path and the others
may still be served here): no aiohttp middleware or ``on_response_prepare`` signal on the app
(the tests' OpenAPI check is one: those apps serve every route the usual way), no hook or
identity middleware (with a JWKS, identity has one: the usual path; in header mode and with an
HS256 secret the join resolves its fan itself, as on the usual path), no rate limit the edge
counts (the join counts its own, in its one Redis script), the dispatcher (web.eventroutes)
first under ``/events`` and its path shadowed by no other resource.

aiohttp has no public hook below the Application that every runner uses (run_app, AppRunner,
the test server), so this relies on four of its internals, each pinned by a test that fails if
aiohttp changes it: AppRunner builds its Server with ``app._handle`` after on_startup; the
request's match info is ``request._match_info``; the router's ``_resource_index`` and
``_matched_sub_app_resources`` are what it walks.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import NamedTuple

from aiohttp import hdrs, web
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE, HttpVersion10, HttpVersion11
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from models.context import request_id_var
from web import caching, problems, ratelimit
from web.appkeys import REQUEST_ID, SETTINGS
from web.eventroutes import EVENT_ROUTES, PREFIX
from web.handlers import waiting_room
from web.metrics import TIMINGS
from web.middleware import EdgeRules, edge_headers

log = logging.getLogger("ticketdrop.web")

#: An answer before HTTP: status, headers (in the order they go out), body (None: none, a 304).
Parts = tuple[int, dict[str, str], bytes | None]


class HotRoute(NamedTuple):
    """A route served below the router: ``methods /events/<id><tail>``, whose ``handler`` (as the
    route table registers it) sends what ``parts`` gives through aiohttp's response."""

    tail: str
    methods: tuple[str, ...]
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    parts: Callable[[web.Request], Awaitable[Parts]]


#: The floods of a drop: every waiting fan's status and progress polls, every arriving fan's join.
ROUTES = (
    HotRoute("/waiting-room/status", ("GET", "HEAD"), waiting_room.status, waiting_room.status_parts),
    HotRoute("/waiting-room/progress", ("GET", "HEAD"), waiting_room.progress, waiting_room.progress_parts),
    HotRoute("/waiting-room/join", ("POST",), waiting_room.join, waiting_room.join_parts),
)
_SERVER = f"Server: {SERVER_SOFTWARE}\r\n"
#: Status -> reason phrase, as aiohttp's response writes it (its REASON_PHRASES: "" for a status without one).
_REASONS = {status.value: status.phrase for status in HTTPStatus}


class Written(web.StreamResponse):
    """An answer already in bytes (status line, headers, body): :meth:`prepare` takes the
    request's writer, :meth:`write_eof` sends the bytes in one write. ``headers`` stays empty:
    what was sent is in the bytes (an access log still gets the status and the length)."""

    def __init__(self, status: int, data: bytes, keep_alive: bool) -> None:
        super().__init__(status=status)
        self._data = data
        self._keep_alive = keep_alive

    async def prepare(self, request: web.BaseRequest):
        if self._payload_writer is None and not self._eof_sent:
            self._req = request
            self._payload_writer = request.writer
        return self._payload_writer

    async def write_eof(self, data: bytes = b"") -> None:
        if self._eof_sent:
            return
        writer = self._payload_writer
        assert writer is not None, "prepare() first"
        await writer.write_eof(self._data)
        self._eof_sent = True
        self._body_length = writer.output_size
        self._req = None
        self._payload_writer = None


def refusal(app: web.Application) -> str | None:
    """Why no route of ``app`` (started up, routes sealed) may be served below the router, or None."""
    if not app[SETTINGS].hot_path:
        return "HOT_PATH is off"
    if app.middlewares:
        return "the app has aiohttp middlewares"
    if app.on_response_prepare:
        return "the app has on_response_prepare signals"
    router = app.router
    if router._matched_sub_app_resources:
        return "the app has domain sub-apps"
    if router._resource_index.get(PREFIX, [None])[0] is not app[EVENT_ROUTES]:
        return "the /events dispatcher is not the first resource under /events"
    return None


def route_refusal(app: web.Application, route: HotRoute) -> str | None:
    """Why ``route`` must take the usual path in ``app`` though :func:`refusal` allows the hot one, or None."""
    resource = app[EVENT_ROUTES].resource_of(route.tail)
    if resource is None:
        return f"no {PREFIX}/{{id}}{route.tail} resource the dispatcher takes"
    for method in route.methods:
        registered = resource._routes.get(method)
        if registered is None or getattr(registered.handler, "__wrapped__", None) is not route.handler:
            return f"{method} {resource.canonical} is not the edge step around the {route.handler.__name__} handler alone"
        if ratelimit.edge_scope(method, resource.canonical) is not None:
            return f"the edge counts a rate limit for {method} {resource.canonical}"
    return None


def served(handler: object) -> tuple[str, ...]:
    """The tails of the routes ``handler`` (a server's request handler) serves below the router."""
    return getattr(handler, "hot_tails", ())


def install(app: web.Application) -> bool:
    """Serve ``app``'s :data:`ROUTES` below the router, each unless :func:`refusal` or
    :func:`route_refusal` says why not; True if any is."""
    reason = refusal(app)
    if reason is not None:
        # INFO: an operator who sees the web tier's CPU per poll or join up learns why at start-up.
        log.info("the hot routes take the usual path", extra={"reason": reason})
        return False
    hot = []
    for route in ROUTES:
        reason = route_refusal(app, route)
        if reason is None:
            hot.append(route)
        else:
            log.info("a hot route takes the usual path", extra={"route": route.tail, "reason": reason})
    if not hot:
        return False
    usual = app._handle
    rules = EdgeRules(app[SETTINGS])
    request_id, cors_origin = rules.request_id, rules.cors_origin
    perf_counter, observe, private_headers = time.perf_counter, TIMINGS.observe, caching.private_headers
    # Per method, what each of its hot routes needs per request (a plain tuple: unpacked, not looked up).
    by_method: dict[str, list[tuple]] = {}
    for route in hot:
        resource = app[EVENT_ROUTES].resource_of(route.tail)
        routes = {method: resource._routes[method] for method in route.methods}
        for method in route.methods:
            by_method.setdefault(method, []).append(
                (route.tail, len(route.tail), routes[method], route.parts, resource.canonical,
                 caching.is_private(route.handler)))
    # Resources indexed under a longer prefix (a static /events/<x>...) come before the dispatcher.
    shadows = tuple(key for key in app.router._resource_index if key.startswith(PREFIX + "/"))
    shadow_dirs = tuple(key + "/" for key in shadows)

    async def handle(request: web.Request) -> web.StreamResponse:
        method = request.method
        candidates = by_method.get(method)
        if candidates is None:
            return await usual(request)
        path = request.rel_url.path_safe
        if not path.startswith("/events/"):
            return await usual(request)
        for tail, cut, matched, parts, label, private in candidates:  # noqa: B007 - used after the loop
            if path.endswith(tail):
                break
        else:
            return await usual(request)
        ident = path[8:-cut]
        version = request.version
        if (not ident or "/" in ident or "%" in ident or "{" in ident or "}" in ident
                or (shadows and (path in shadows or path.startswith(shadow_dirs)))
                or request.body_exists or request.headers.get(hdrs.EXPECT)
                or (version != HttpVersion11 and version != HttpVersion10)):
            return await usual(request)

        started = perf_counter()
        match = UrlMappingMatchInfo({"id": ident}, matched)  # as Application._handle sets it
        match.add_app(app)
        match.freeze()
        request._match_info = match
        headers = request.headers
        rid = request[REQUEST_ID] = request_id(headers)
        context = request_id_var.set(rid)
        origin = cors_origin(headers)
        failed: web.StreamResponse | None = None
        try:
            code, fields, body = await parts(request)
        except Exception as exc:  # noqa: BLE001 - as the edge step: web.problems decides (no answer redirects)
            failed = problems.from_exception(exc, request)
        finally:
            request_id_var.reset(context)
        if failed is not None:
            if private:
                private_headers(failed.headers)
            edge_headers(failed.headers, rid, origin, method)
            observe(method, label, failed.status, perf_counter() - started)
            return failed

        if private:
            private_headers(fields)
        edge_headers(fields, rid, origin, method)
        keep_alive = request.keep_alive
        # What aiohttp's prepare() adds, in its order: Content-Length (none on a 304), Date,
        # Server, and Connection when it differs from the version's default.
        head = [f"HTTP/{version.major}.{version.minor} {code} {_REASONS.get(code, '')}\r\n"]
        head += [f"{name}: {value}\r\n" for name, value in fields.items()]
        if body is not None:
            head.append(f"Content-Length: {len(body)}\r\n")
        head.append(f"Date: {rfc822_formatted_time()}\r\n")
        head.append(_SERVER)
        if keep_alive:
            if version == HttpVersion10:
                head.append("Connection: keep-alive\r\n")
        elif version == HttpVersion11:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        # aiohttp's serializer writes UTF-8 and drops lone surrogates: "ignore" does the same
        data = "".join(head).encode("utf-8", "ignore")
        if body is not None and method != "HEAD":
            data += body
        observe(method, label, code, perf_counter() - started)
        return Written(code, data, keep_alive)

    handle.hot_tails = tuple(route.tail for route in hot)
    with warnings.catch_warnings():  # aiohttp's debug mode warns of any attribute set on an app
        warnings.simplefilter("ignore", DeprecationWarning)
        app._handle = handle  # AppRunner gives its Server app._handle after on_startup (pinned by a test)
    return True


async def install_on_startup(app: web.Application) -> None:
    """After web.middleware.seal_on_startup: the routes are sealed, the router not yet frozen."""
    install(app)
