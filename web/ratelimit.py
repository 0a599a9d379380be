"""Rate-limit middleware for the fan commands: join, reserve, checkout.

Per user (the id web/identity.py resolved) and per client address; the address is ``request.remote``, or with
TRUST_FORWARDED_FOR the last X-Forwarded-For hop (the one our own proxy appended; earlier
hops are whatever the client wrote). Answers carry the IETF ``RateLimit`` and
``RateLimit-Policy`` fields (draft-ietf-httpapi-ratelimit-headers); a refusal is a 429
problem with ``Retry-After``.

Reserve and checkout are counted here, by the edge step (web.middleware), before their handlers. A join is
counted by the join itself (one Redis script: models.waiting_room.service), so its quotas count
per event; its handler asks :func:`subjects` for what to count.
"""

from __future__ import annotations

import re

from aiohttp import web

from models.errors import TicketDropError
from models.ratelimit import Policy
from models.settings import Settings
from web.appkeys import RATE_LIMITER, RATE_POLICIES, SETTINGS
from web.identity import peek_user, prepare

#: (scope, POST path pattern, counted by its own handler) of every limited route. A join's limits
#: are counted by the join's own script (one Redis call), so the edge step leaves it alone.
_ROUTES = (
    ("join", re.compile(r"^/events/[^/]+/waiting-room/join/?$"), True),
    ("reserve", re.compile(r"^/events/[^/]+/reservations/?$"), False),
    ("checkout", re.compile(r"^/checkout/.+"), False),
)


def _route(method: str, path: str) -> tuple | None:
    if method != "POST":
        return None
    return next((entry for entry in _ROUTES if entry[1].match(path)), None)


def scope_for(method: str, path: str) -> str | None:
    """The limited scope of ``method path`` (a request's path or a route's template), or None."""
    entry = _route(method, path)
    return entry[0] if entry is not None else None


def edge_scope(method: str, path: str) -> str | None:
    """The scope the edge step (web.middleware) counts before the handler of ``method path``
    (a route's template), or None: not limited, or counted by its own handler (a join)."""
    entry = _route(method, path)
    return entry[0] if entry is not None and not entry[2] else None


def client_address(request: web.Request, settings: Settings) -> str:
    if settings.trust_forwarded_for:
        hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return request.remote or "unknown"


def policies(settings: Settings, scope: str) -> tuple[Policy, Policy]:
    per_user = {"join": settings.rate_join_per_min, "reserve": settings.rate_reserve_per_min,
                "checkout": settings.rate_checkout_per_min}[scope]
    return Policy(scope, per_user), Policy("ip", settings.rate_per_ip_per_min)


def all_policies(settings: Settings) -> dict[str, tuple[Policy, Policy]]:
    """Every limited scope's (per-user, per-address) policies (web.appkeys.RATE_POLICIES)."""
    return {scope: policies(settings, scope) for scope, _, _ in _ROUTES}


async def subjects(request: web.Request, scope: str) -> list[tuple[Policy, str]]:
    """The (per-user policy, user id) and (per-address policy, address) pairs the request counts
    against. Resolves the identity first (jwt: the JWKS read, off the loop, when due); a missing,
    malformed or refused one gives an empty user id (for reserve and checkout only the address
    counts, then the handler answers 400/401; a join is refused before anything is counted)."""
    app = request.app
    settings = app[SETTINGS]
    user_policy, ip_policy = app[RATE_POLICIES][scope]
    if settings.identity_mode == "jwt":
        await prepare(request)
    return [(user_policy, peek_user(request)), (ip_policy, client_address(request, settings))]


async def limited(request: web.Request, handler, scope: str) -> web.StreamResponse:
    """Count the request against its scope's per-user and per-address limits, then run
    ``handler``; raises RateLimited (429 with Retry-After) when a limit is spent. The answer
    (or the error) carries the RateLimit fields. Called by the edge step (web.middleware) for
    every limited route but those that count their own (:func:`edge_scope`)."""
    decision = await request.app[RATE_LIMITER].check(await subjects(request, scope))
    if decision is None:
        return await handler(request)
    if not decision.allowed:
        raise decision.refusal()
    headers = decision.fields()
    try:
        response = await handler(request)
    except (TicketDropError, web.HTTPException) as exc:
        exc.headers.update(headers)
        raise
    response.headers.update(headers)
    return response
