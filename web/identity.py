"""Who is asking: the fan's user id, from the mode IDENTITY_MODE names.

- ``demo``: the self-asserted ``X-User-Id`` (``make run``, the seed's clients). Optional where
  a route allows it (joining a waiting room anonymously).
- ``proxy``: ``X-User-Id`` as set by an authenticating proxy the operator trusts; always required.
- ``jwt``: ``Authorization: Bearer <JWT>`` verified by models.identity; its subject is the user.
  A request carrying ``X-User-Id`` is refused (400 naming the header), so nobody can pick an id.

The id is resolved once per request (handlers and the rate limiter share it). Admin routes never
come here: their bearer token is ADMIN_TOKEN (web/auth.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from models.errors import InvalidInput, TicketDropError
from models.identity import USER_ID_RE, InvalidToken, TokenVerifier, missing_token
from web.appkeys import JWKS_LOCK, SETTINGS, TOKEN_VERIFIER

#: ``request`` keys of the resolved user id (or the error it resolved to).
#: (user id or None, the refusal or None), once resolved for this request. One key read by
#: ``request[...]``: a web.Request is a plain Mapping, whose ``get`` and ``in`` raise and catch a
#: KeyError on every miss (two keys cost every request three misses).
_IDENTITY = web.RequestKey("identity", tuple)


def setup(app: web.Application) -> None:
    """In jwt mode, build the verifier and read its JWKS now: a key source that cannot be read
    refuses to start, naming its variable (ConfigError)."""
    settings = app[SETTINGS]
    if settings.identity_mode != "jwt":
        return
    verifier = TokenVerifier.from_settings(settings)
    if verifier.jwks is not None:
        verifier.jwks.refresh(strict=True)
    app[TOKEN_VERIFIER] = verifier
    app[JWKS_LOCK] = asyncio.Lock()


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header is not 'Bearer <token>'")
    return token.strip()


def middlewares(settings: Any) -> list:
    """[jwks_middleware] when tokens are checked against a JWKS; nothing otherwise (every
    middleware costs every request, the status poll included). The edge step (web.middleware)
    chains them around each route's handler when the app starts."""
    keyed = settings.identity_mode == "jwt" and (settings.jwt_jwks_file or settings.jwt_jwks_url)
    return [jwks_middleware] if keyed else []


async def prepare(request: web.Request) -> None:
    """Read the JWKS again (off the event loop, one read at a time) when the request's token
    names a key we do not know or the cache is old, so verifying it never blocks. Called before
    anything resolves the user (jwt mode only): by the rate limiter and by :func:`jwks_middleware`."""
    verifier = request.app[TOKEN_VERIFIER]
    if verifier.jwks is None or _resolved(request) is not None:
        return
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer " or request.path.startswith("/admin"):
        return
    kid = verifier.key_id(header[7:].strip())
    if verifier.jwks.due(kid):
        async with request.app[JWKS_LOCK]:
            if verifier.jwks.due(kid):
                await asyncio.get_running_loop().run_in_executor(None, verifier.jwks.refresh)


@web.middleware
async def jwks_middleware(request: web.Request, handler):
    await prepare(request)
    return await handler(request)


def _resolve(request: web.Request, required: bool) -> str | None:
    settings = request.app[SETTINGS]
    raw = request.headers.get("X-User-Id")
    if settings.identity_mode == "jwt":
        if raw is not None:
            raise InvalidInput("X-User-Id is not accepted here: sign in and send 'Authorization: Bearer <token>'",
                               field="header.X-User-Id")
        token = _bearer(request)
        if token is None:
            raise missing_token()
        return request.app[TOKEN_VERIFIER].subject(token)
    if raw is None or raw == "":
        if required or settings.identity_mode == "proxy":
            raise InvalidInput("The X-User-Id header is required", field="header.X-User-Id")
        return None
    if not USER_ID_RE.match(raw):
        raise InvalidInput("X-User-Id must be 1..128 printable characters without spaces", field="header.X-User-Id")
    return raw


def current_user(request: web.Request, *, required: bool = True) -> str | None:
    """The fan's user id. ``required=False`` lets a demo-mode request go without one (None);
    the other modes always need it. Raises InvalidInput (400) or Unauthorized/InvalidToken (401)."""
    resolved = _resolved(request)
    if resolved is not None:
        user, error = resolved
        if error is not None:
            raise error
        if user is not None or not required:
            return user
    try:
        user = _resolve(request, required)
    except TicketDropError as exc:
        request[_IDENTITY] = (None, exc)
        raise
    request[_IDENTITY] = (user, None)
    return user


def _resolved(request: web.Request) -> tuple[str | None, TicketDropError | None] | None:
    try:
        return request[_IDENTITY]
    except KeyError:
        return None


def peek_user(request: web.Request) -> str:
    """The user id for rate limiting, or "" when there is none or it is refused (the handler then
    answers the refusal; the per-address limit still counts the request)."""
    try:
        return current_user(request, required=False) or ""
    except TicketDropError:
        return ""

