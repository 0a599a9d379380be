"""Request bodies are read here, once, before any handler runs: a declared Content-Length over
the limit is refused before a byte is read, a body that stops arriving ends in a 408 after
BODY_READ_TIMEOUT_S, and a client that hangs up mid-body is a routine event, not an error.

aiohttp itself drops a stalled header section, but once the headers are in it waits for a
body for as long as the connection stays open (issue 12, finding 2).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from models import errors
from web.appkeys import REQUEST_ID, SETTINGS
from web.problems import problem_response

log = logging.getLogger("ticketdrop.web")


@web.middleware
async def body_guard_middleware(request: web.Request, handler):
    """:func:`read_body` as a middleware of its own (the web app's edge step, web.middleware, calls it itself)."""
    if request.body_exists:
        refused = await read_body(request)
        if refused is not None:
            return refused
    return await handler(request)


async def read_body(request: web.Request) -> web.Response | None:
    """Read a request's body into memory under the limits: None when it is in, else the refusal
    to send (413, 408, or the answer to a client that hung up), with the connection closed."""
    limit = request.app[SETTINGS].max_body_bytes
    declared = request.content_length
    if declared is not None and declared > limit:
        return _closing(errors.PayloadTooLarge(f"Content-Length {declared} is over the {limit} byte limit",
                                               field="header.Content-Length"), request)
    try:
        # read() keeps the bytes on the request: handlers that read the body get them from memory.
        await asyncio.wait_for(request.read(), timeout=request.app[SETTINGS].body_read_timeout_s)
    except TimeoutError:
        return _closing(errors.RequestTimeout(
            f"The body did not arrive within {request.app[SETTINGS].body_read_timeout_s:g} s", field="body"), request)
    except web.HTTPRequestEntityTooLarge:  # a chunked body that grew past the limit
        return _closing(errors.PayloadTooLarge(f"Body is over the {limit} byte limit", field="body"), request)
    except ConnectionError:
        # Nobody is left to answer; the response below is dropped by aiohttp.
        log.info("client closed the connection mid-body", extra={"request_id": request.get(REQUEST_ID), "path": request.path})
        return _closing(errors.InvalidInput("The client closed the connection before the body was complete"), request)
    return None


def _closing(err: errors.TicketDropError, request: web.Request) -> web.Response:
    # The rest of the body may still be on its way: close instead of reading it to keep the connection.
    response = problem_response(err, request)
    response.force_close()
    return response
