"""The waiting-room status poll served below aiohttp's Application (issue 14).

Why: the status poll is the flood of a drop (every waiting fan, every 2 s), and after four
passes over our own code it still cost about twice the trivial aiohttp handler's web CPU (1M
room, one process: 79 µs for a first poll, 70 for a repeat poll against 42), spread 1-3 µs a
piece over the router's resolve, ``Application._handle``, the edge step's coroutine, building
the response's header multidict and aiohttp's prepare/serialize/write steps. Here a request
whose path is ``/events/<id>/waiting-room/status`` (GET or HEAD, no body) skips the router
and ``Application._handle``, runs the edge step's work inline, and its answer goes out as one
bytes object written straight to aiohttp's stream writer. Everything else goes to
``Application._handle`` as before. Measured in docs/benchmarks.md ("The status poll below the
router").

What it keeps, each asserted against the usual path byte for byte by
tests/unit/web/test_hotpath.py: the answer of web.handlers.waiting_room.status_answer and
web.edgecache.parts (200 / 304, ETag, Cache-Control, Vary, HEAD without a body), the edge's
headers from web.middleware.edge_headers (X-Request-Id, the caller's when safe; nosniff; CORS
for allowed origins), errors as problem+json (web.problems, then the edge's headers), the
route's latency in web.metrics.TIMINGS under its own label, keep-alive and ``Connection`` as
aiohttp writes them, aiohttp's ``Date`` and ``Server``. What it leaves to the usual path:
everything it does not recognise, a request with a body (the edge's body limits), an
``Expect`` header, an id with ``%`` (web.eventroutes unquotes it), preflights (OPTIONS).

It installs itself only when nothing else must run around the status handler (:func:`refusal`):
no aiohttp middleware or ``on_response_prepare`` signal on the app (the tests' OpenAPI check is
one: those apps serve the status poll the usual way), no hook or identity middleware (with a
JWKS, identity has one: the usual path), the status route public, counted by no edge rate limit,
first under ``/events`` (web.eventroutes) and shadowed by no other resource.

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
from http import HTTPStatus

from aiohttp import hdrs, web
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE, HttpVersion10, HttpVersion11
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from models.context import request_id_var
from web import caching, edgecache, problems, ratelimit
from web.appkeys import REQUEST_ID, SETTINGS
from web.eventroutes import EVENT_ROUTES, PREFIX
from web.handlers.waiting_room import status, status_answer
from web.metrics import TIMINGS
from web.middleware import EdgeRules, edge_headers

log = logging.getLogger("ticketdrop.web")

#: The path's tail after ``/events/<id>``.
TAIL = "/waiting-room/status"
_METHODS = ("GET", "HEAD")
_SERVER = f"Server: {SERVER_SOFTWARE}\r\n"
_REASONS = {status: HTTPStatus(status).phrase for status in (200, 304)}


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
    """Why the status poll must take the usual path in ``app`` (started up, routes sealed), or None."""
    if not app[SETTINGS].status_hot_path:
        return "STATUS_HOT_PATH is off"
    if app.middlewares:
        return "the app has aiohttp middlewares"
    if app.on_response_prepare:
        return "the app has on_response_prepare signals"
    router = app.router
    if router._matched_sub_app_resources:
        return "the app has domain sub-apps"
    if router._resource_index.get(PREFIX, [None])[0] is not app[EVENT_ROUTES]:
        return "the /events dispatcher is not the first resource under /events"
    resource = app[EVENT_ROUTES].resource_of(TAIL)
    if resource is None:
        return f"no {PREFIX}/{{id}}{TAIL} resource the dispatcher takes"
    for method in _METHODS:
        route = resource._routes.get(method)
        if route is None or getattr(route.handler, "__wrapped__", None) is not status:
            return f"{method} {resource.canonical} is not the edge step around the status handler alone"
        if ratelimit.edge_scope(method, resource.canonical) is not None:
            return f"the edge counts a rate limit for {method} {resource.canonical}"
    if caching.is_private(status):
        return "the status route is private"
    return None


def install(app: web.Application) -> bool:
    """Serve ``app``'s status polls below the router unless :func:`refusal` says why not."""
    reason = refusal(app)
    if reason is not None:
        log.info("status polls take the usual path", extra={"reason": reason})
        return False
    usual = app._handle
    rules = EdgeRules(app[SETTINGS])
    request_id, cors_origin = rules.request_id, rules.cors_origin
    perf_counter, observe, parts = time.perf_counter, TIMINGS.observe, edgecache.parts
    resource = app[EVENT_ROUTES].resource_of(TAIL)
    routes = {method: resource._routes[method] for method in _METHODS}
    label = resource.canonical
    # Resources indexed under a longer prefix (a static /events/<x>...) come before the dispatcher.
    shadows = tuple(key for key in app.router._resource_index if key.startswith(PREFIX + "/"))
    shadow_dirs = tuple(key + "/" for key in shadows)
    cut = len(TAIL)

    async def handle(request: web.Request) -> web.StreamResponse:
        method = request.method
        if method != "GET" and method != "HEAD":
            return await usual(request)
        path = request.rel_url.path_safe
        if not path.endswith(TAIL) or not path.startswith("/events/"):
            return await usual(request)
        ident = path[8:-cut]
        version = request.version
        if (not ident or "/" in ident or "%" in ident or "{" in ident or "}" in ident
                or (shadows and (path in shadows or path.startswith(shadow_dirs)))
                or request.body_exists or request.headers.get(hdrs.EXPECT)
                or (version != HttpVersion11 and version != HttpVersion10)):
            return await usual(request)

        started = perf_counter()
        match = UrlMappingMatchInfo({"id": ident}, routes[method])  # as Application._handle sets it
        match.add_app(app)
        match.freeze()
        request._match_info = match
        headers = request.headers
        rid = request[REQUEST_ID] = request_id(headers)
        context = request_id_var.set(rid)
        origin = cors_origin(headers)
        failed: web.StreamResponse | None = None
        try:
            answer = await status_answer(request)
        except Exception as exc:  # noqa: BLE001 - as the edge step: web.problems decides (the answer never redirects)
            failed = problems.from_exception(exc, request)
        finally:
            request_id_var.reset(context)
        if failed is not None:
            edge_headers(failed.headers, rid, origin, method)
            observe(method, label, failed.status, perf_counter() - started)
            return failed

        code, fields, body = parts(request, answer)
        edge_headers(fields, rid, origin, method)
        keep_alive = request.keep_alive
        # What aiohttp's prepare() adds, in its order: Content-Length (none on a 304), Date,
        # Server, and Connection when it differs from the version's default.
        head = [f"HTTP/{version.major}.{version.minor} {code} {_REASONS[code]}\r\n"]
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

    with warnings.catch_warnings():  # aiohttp's debug mode warns of any attribute set on an app
        warnings.simplefilter("ignore", DeprecationWarning)
        app._handle = handle  # AppRunner gives its Server app._handle after on_startup (pinned by a test)
    return True


async def install_on_startup(app: web.Application) -> None:
    """After web.middleware.seal_on_startup: the routes are sealed, the router not yet frozen."""
    install(app)
