"""web.eventroutes: the /events/{id}/... routes found by one dict lookup, always the route
aiohttp's own walk of the router would find."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_urldispatcher import UrlDispatcher

from web import eventroutes

ID = "0b7c0f5e-6f5d-4b4e-9a59-3f2b8c1d2e3f"


async def _handler(request):  # pragma: no cover - never called: only resolved
    return web.Response()


def _sample(canonical: str) -> str:
    return re.sub(r"\{[^}]+\}", ID, canonical)


async def _walk(router: UrlDispatcher, request: web.Request):
    """What aiohttp's router answers without the dispatcher."""
    index = router._resource_index[eventroutes.PREFIX]
    dispatcher = index.pop(0)
    try:
        return await router.resolve(request)
    finally:
        index.insert(0, dispatcher)


async def _taken(app: web.Application) -> dict[str, str]:
    """tail -> the canonical path of the resource the dispatcher itself answers that tail's
    route with (a tail it leaves to the router's walk is not in it)."""
    taken = {}
    for route in app.router.routes():
        if route.resource.canonical.startswith(f"{eventroutes.PREFIX}/"):
            path = _sample(route.resource.canonical)
            match, _ = await app[eventroutes.EVENT_ROUTES].resolve(make_mocked_request(route.method, path, app=app))
            if match is not None:
                taken[path.removeprefix(f"{eventroutes.PREFIX}/{ID}")] = match.route.resource.canonical
    return taken


@pytest.fixture
async def started(app):
    await eventroutes.seal_on_startup(app)
    return app


async def test_every_events_route_resolves_through_the_dispatcher_as_the_router_would(started):
    router = started.router
    routes = [r for r in router.routes() if r.resource.canonical.startswith("/events")]
    assert routes
    for route in routes:
        request = make_mocked_request(route.method, _sample(route.resource.canonical), app=started)
        ours, theirs = await router.resolve(request), await _walk(router, request)
        assert (ours.route, dict(ours)) == (theirs.route, dict(theirs)), route.resource.canonical


async def test_the_hot_waiting_room_routes_are_in_the_dispatchers_table(started):
    taken = await _taken(started)
    assert {"/waiting-room/status", "/waiting-room/progress", "/waiting-room/join", ""} <= set(taken)
    assert all(canonical == f"/events/{{id}}{tail}" for tail, canonical in taken.items())


@pytest.mark.parametrize(("method", "path"), [
    ("DELETE", "/events/x/waiting-room/status"),  # a path the dispatcher knows, a method it has no route for
    ("GET", "/events/x/waiting-room/nothing"),
    ("GET", "/events/x/waiting-room/status/"),
    ("GET", "/events//waiting-room/status"),
    ("GET", "/events/a%2Fb/waiting-room/status"),
    ("PUT", "/events"),
    ("GET", "/eventsx"),
])
async def test_paths_the_dispatcher_does_not_take_end_as_the_router_would_end_them(started, method, path):
    request = make_mocked_request(method, path, app=started)
    ours, theirs = await started.router.resolve(request), await _walk(started.router, request)
    assert type(ours) is type(theirs) and dict(ours) == dict(theirs)
    if getattr(theirs, "http_exception", None) is None:
        assert ours.route is theirs.route
    else:
        assert ours.http_exception.status == theirs.http_exception.status
        assert ours.http_exception.headers.get("Allow") == theirs.http_exception.headers.get("Allow")


async def test_a_tail_an_earlier_resource_takes_or_an_id_with_its_own_pattern_stays_with_the_router():
    app = web.Application()
    eventroutes.install(app)
    app.router.add_get("/events/{event}/shadowed", _handler)  # another variable name: matches every id first
    app.router.add_get("/events/{id}/shadowed", _handler)
    app.router.add_get("/events/{id:\\d+}/digits", _handler)
    app.router.add_get("/events/{id}/plain", _handler)
    app[eventroutes.EVENT_ROUTES].seal(app.router)
    assert set(await _taken(app)) == {"/plain"}


async def test_the_dispatcher_lists_no_routes_of_its_own(started):
    assert not any(isinstance(route.resource, eventroutes.EventRoutes) for route in started.router.routes())
    assert len(started[eventroutes.EVENT_ROUTES]) == 0
