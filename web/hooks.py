"""Extension points for cross-cutting middleware (metrics, logging, rate limits).

Kept apart from web/app.py so operations code can add middleware without editing the factory.
"""

from __future__ import annotations


def outer_middlewares() -> list:
    """Run first inside the edge middleware (web.middleware: request id, rate limits, problems,
    CORS and timing are done there, in one coroutine). Empty: every extra middleware costs every
    request, the status poll included; prefer a route's own handler where a step is route-specific."""
    return []


def inner_middlewares() -> list:
    """Run after outer_middlewares, closest to the handler (their errors become problem+json)."""
    return []
