"""Extension points for cross-cutting middleware (metrics, logging, rate limits).

Kept apart from web/app.py so operations code can add middleware without editing the factory.
"""

from __future__ import annotations


def outer_middlewares() -> list:
    """Run outside problem rendering (they see the final response, e.g. access logs, metrics)."""
    from web.metrics import http_metrics_middleware

    return [http_metrics_middleware]


def inner_middlewares() -> list:
    """Run inside problem rendering (their errors become problem+json, e.g. rate limits)."""
    from web.ratelimit import rate_limit_middleware

    return [rate_limit_middleware]
