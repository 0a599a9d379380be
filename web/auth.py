"""Admin authentication: ``Authorization: Bearer $ADMIN_TOKEN``, compared in constant time."""

from __future__ import annotations

import hmac

from aiohttp import web

from models.errors import Forbidden, Unauthorized
from web.appkeys import SETTINGS


def require_admin(request: web.Request) -> None:
    """Raise 401 without a bearer token, 403 with a wrong one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Admin routes need 'Authorization: Bearer <ADMIN_TOKEN>'", field="header.Authorization",
                           headers={"WWW-Authenticate": 'Bearer realm="ticketdrop-admin"'})
    expected = request.app[SETTINGS].admin_token.encode()
    if not hmac.compare_digest(token.strip().encode(), expected):
        raise Forbidden("The admin token is wrong", field="header.Authorization")


def admin_only(handler):
    """Decorator for admin handlers."""

    async def wrapped(request: web.Request):
        require_admin(request)
        return await handler(request)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    wrapped.__admin__ = True
    if hasattr(handler, "__openapi__"):
        wrapped.__openapi__ = handler.__openapi__
    return wrapped
