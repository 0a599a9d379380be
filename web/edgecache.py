"""HTTP caching for the public polled documents (waiting-room status and progress).

They are cacheable by any shared cache (``public``): the status URL carries the fan's token, so
a cached answer is only ever served to a request that already knows the token; progress is the
same for every fan. Freshness is what the document really has (models.waiting_room.status.
max_age_s: until the next wave is due, never more than one wave interval), so an edge cache
shows a pause, a resume or a new wave within one tick. An expired copy is revalidated with
If-None-Match and answered 304 while the document's validator did not change.

Answers that depend on who asks (X-User-Id, Authorization) are never marked public; their
no-store / Vary headers come from web/caching.py (issue 12, finding 7), never from here.
"""

from __future__ import annotations

from aiohttp import web

from models.waiting_room.service import Answer
from web import responses

#: Every cacheable answer may differ by Origin (CORS headers are added per allowed origin).
VARY = "Origin"


#: Cache-Control by max-age, made once: a status answer's is at most one wave interval.
_CONTROLS = ("public, no-cache", *(f"public, max-age={seconds}" for seconds in range(1, 61)))


def cache_headers(answer: Answer) -> dict[str, str]:
    seconds = answer.max_age_s
    if 0 <= seconds < len(_CONTROLS):
        control = _CONTROLS[seconds]
    else:
        control = f"public, max-age={seconds}" if seconds > 0 else "public, no-cache"
    return {"Cache-Control": control, "ETag": answer.etag, "Vary": VARY}


def matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: weak comparison of ``etag`` with every tag the header lists, or ``*``."""
    opaque = etag[2:] if etag.startswith("W/") else etag
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or (candidate[2:] if candidate.startswith("W/") else candidate) == opaque:
            return True
    return False


def respond(request: web.Request, answer: Answer) -> web.Response:
    """200 with the document, or 304 (headers only) when the client's copy is still the same."""
    status, headers, body = parts(request, answer)
    return web.Response(status=status, headers=headers, body=body)


def parts(request: web.Request, answer: Answer) -> tuple[int, dict[str, str], bytes | None]:
    """:func:`respond`'s status, headers and body (None for a 304); web.hotpath writes them out itself."""
    headers = cache_headers(answer)
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and matches(if_none_match, answer.etag):
        return 304, headers, None
    headers["Content-Type"] = "application/json"  # what responses.json sets, without its layers
    return 200, headers, responses.dumps(answer.document)
