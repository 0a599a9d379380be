"""Extension points for cross-cutting middleware (metrics, logging, rate limits).

Kept apart from web/app.py so operations code can add middleware without editing the factory.
They are middlewares in aiohttp's form, but not the app's: the edge step (web.middleware) chains
them around each route's handler once, when the app starts, inside itself.
"""

from __future__ import annotations


def outer_middlewares() -> list:
    """Run first inside the edge step (web.middleware: request id, rate limits, problems,
    CORS and timing are done there, in one coroutine). Empty: every extra middleware costs every
    request, the status poll included; prefer a route's own handler where a step is route-specific."""
    return []


def inner_middlewares() -> list:
    """Run after outer_middlewares, closest to the handler (their errors become problem+json)."""
    return []
