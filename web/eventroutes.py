"""One dict lookup instead of a walk for the ``/events/{id}/...`` routes (the status poll's
family: the hottest routes of a drop).

aiohttp indexes every ``/events/{id}...`` resource under ``/events`` and tries them in
registration order, each an ``await resource.resolve()`` with a regex: a status poll (the first
of them) spent 26,500 instructions in ``router.resolve``, the join (the sixth) 48,000, and
``GET /events`` (a plain resource behind all of them) 38,000. :class:`EventRoutes`, the first
resource under ``/events``, takes a path ``/events/<id>`` or ``/events/<id>/<static tail>``
(and ``/events`` itself, straight to its plain resource), finds the one resource of that tail in a dict, and answers its route for the method, with the
``id`` as aiohttp's own ``{id}`` would match it. Anything else (no such tail, a method that
resource has no route for, a tail with another variable) it leaves to the router's usual walk,
so what matches is always what aiohttp would match; a tail whose resource an earlier one
shadows is never put in the dict.

It lists no routes: ``router.routes()``, the OpenAPI document and the route tests still see
every route in its own resource (url_for, canonical paths and metrics labels unchanged).
"""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource, DynamicResource, PlainResource, UrlMappingMatchInfo

from web.resources import RoutelessResource

#: The family's prefix: aiohttp indexes every ``/events/{...}`` resource under it.
PREFIX = "/events"
#: A resource the table takes: ``/events/{id}`` and an optional tail without variables.
_TAKEN = re.compile(r"/events/\{id\}(?P<tail>(?:/[^{}]*)?)")


class EventRoutes(RoutelessResource):
    """Resolves ``/events/{id}[/tail]`` by its tail; registered before every other ``/events``
    resource (:func:`install`), its table filled once every route is in (:func:`seal`)."""

    what = "the /events dispatcher"

    def __init__(self) -> None:
        super().__init__()
        #: tail ("" or "/waiting-room/status") -> the resource aiohttp would match first.
        self._by_tail: dict[str, DynamicResource] = {}
        #: The plain ``/events`` resource (the list of events), walked to last by aiohttp.
        self._listing: PlainResource | None = None

    def seal(self, router: web.UrlDispatcher) -> None:
        """Fill the table from the router's ``/events`` resources (after this one, in order)."""
        earlier: list[AbstractResource] = []
        for resource in router._resource_index.get(PREFIX, ()):  # aiohttp's own index: its order is the rule
            if resource is self:
                continue
            if isinstance(resource, PlainResource) and resource.canonical == PREFIX and self._listing is None:
                self._listing = resource  # no /events/{...} pattern matches "/events" itself
            taken = _TAKEN.fullmatch(resource.canonical) if isinstance(resource, DynamicResource) else None
            if taken is not None and _plain_id(resource, taken["tail"]):
                tail = taken["tail"]
                sample = f"{PREFIX}/0{tail}"
                if tail not in self._by_tail and not any(other.raw_match(sample) or _matches(other, sample)
                                                         for other in earlier):
                    self._by_tail[tail] = resource
            earlier.append(resource)

    def resource_of(self, tail: str) -> DynamicResource | None:
        """The resource a path ``/events/<id><tail>`` resolves to (after :meth:`seal`), or None."""
        return self._by_tail.get(tail)

    async def resolve(self, request: web.Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        path = request.rel_url.path_safe
        if path == PREFIX and self._listing is not None:
            match, allowed = await self._listing.resolve(request)
            return (match, allowed) if match is not None else (None, set())
        # "/events/<id>/<tail>": path[7] is the "/" after "events".
        if not path.startswith("/events/"):
            return None, set()
        slash = path.find("/", 8)
        ident, tail = (path[8:], "") if slash < 0 else (path[8:slash], path[slash:])
        resource = self._by_tail.get(tail)
        if resource is None or not ident or "{" in ident or "}" in ident:
            return None, set()
        route = resource._routes.get(request.method, resource._any_route)
        if route is None:
            return None, set()  # the walk collects the Allow of every resource of this path
        if "%" in ident:  # as aiohttp unquotes a matched part
            ident = ident.replace("%2F", "/").replace("%25", "%")
        return UrlMappingMatchInfo({"id": ident}, route), resource._allowed_methods

    @property
    def canonical(self) -> str:
        return PREFIX + "/{id}"


def _plain_id(resource: DynamicResource, tail: str) -> bool:
    """True if ``resource``'s pattern is the one a plain ``{id}`` gives (not ``{id:regex}``)."""
    return resource.get_info()["pattern"].pattern == DynamicResource(f"{PREFIX}/{{id}}{tail}").get_info()["pattern"].pattern


def _matches(resource: AbstractResource, path: str) -> bool:
    match = getattr(resource, "_match", None)
    return match is not None and match(path) is not None


#: The app's dispatcher (registered by :func:`install`, sealed by :func:`seal`).
EVENT_ROUTES = web.AppKey("event_routes", EventRoutes)


def install(app: web.Application) -> None:
    """Register the dispatcher: before any route, so it is the first resource under /events."""
    app[EVENT_ROUTES] = routes = EventRoutes()
    app.router.register_resource(routes)


async def seal_on_startup(app: web.Application) -> None:
    """Fill the dispatcher's table once every route is in (at start-up, before the router freezes)."""
    app[EVENT_ROUTES].seal(app.router)
