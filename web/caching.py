"""Answers that depend on who asks are never stored by a cache (issue 12, finding 7).

A route is private when its documented contract names the caller: ``X-User-Id`` (required or
optional) or the admin token. Its answers, errors included, carry ``Cache-Control: no-store``
(a handler may keep a stricter-than-public ``private, ...`` of its own, e.g. a ticket's QR code)
and ``Vary: X-User-Id, Authorization``. Public polled documents get their caching headers from
web.edgecache; nothing here ever marks an answer public.

The edge step (web.middleware) asks :func:`is_private` of each route once, as the app starts,
and marks a private route's final answer (errors and refusals included) with
:func:`private_headers`: public routes pay nothing per request, a private one no wrapper.
"""

from __future__ import annotations

from typing import Any

from aiohttp.hdrs import CACHE_CONTROL
from aiohttp.hdrs import VARY as VARY_HEADER

#: The request headers a private answer depends on.
VARY = ("X-User-Id", "Authorization")
_CALLER_HEADERS = {name.lower() for name in VARY}


def is_private(handler: Any) -> bool:
    """True if ``handler``'s documented contract names the caller (X-User-Id or the admin token)."""
    d = getattr(handler, "__openapi__", None)
    if getattr(handler, "__admin__", False) or (d is not None and (d.admin or d.user_header)):
        return True
    return d is not None and any(h.get("in") == "header" and h.get("name", "").lower() in _CALLER_HEADERS for h in d.headers)


_VARY = ", ".join(VARY)


def private_headers(headers: Any) -> None:
    """Mark a response's headers as a private answer's."""
    if CACHE_CONTROL not in headers and VARY_HEADER not in headers:  # most answers: nothing to merge
        headers[CACHE_CONTROL] = "no-store"
        headers[VARY_HEADER] = _VARY
        return
    control = headers.get("Cache-Control", "")
    if not control.startswith("private"):
        headers["Cache-Control"] = "no-store"
    listed = [v.strip() for v in headers.get("Vary", "").split(",") if v.strip()]
    headers["Vary"] = ", ".join(listed + [name for name in VARY if name not in listed])
