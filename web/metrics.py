"""HTTP latency metrics (middleware) and the /metrics exposition.

With PROMETHEUS_MULTIPROC_DIR set, every web, worker and scheduler process writes its counters
to files there and a scrape sums them (prometheus-client multiprocess mode); otherwise the
scrape reads this process's registry. Gauges that describe shared state (queue length, live
holds...) are computed at scrape time from Redis and the database, never kept per process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from models.metrics import HTTP_REQUEST_DURATION, LiveCollector

#: Text format 0.0.4: what every Prometheus server (and prometheus-client's parser) reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(request: web.Request) -> str:
    """The route template (``/events/{id}``), never the raw path: labels must stay few."""
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical


@web.middleware
async def http_metrics_middleware(request: web.Request, handler):
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        method = request.method if request.method in _METHODS else "OTHER"
        HTTP_REQUEST_DURATION.labels(method, route_label(request), str(status)).observe(time.perf_counter() - started)


class _Sources:
    """What generate_latest needs: an object whose ``collect()`` yields metric families."""

    def __init__(self, collectors: Iterable[Any]) -> None:
        self._collectors = list(collectors)

    def collect(self):
        for collector in self._collectors:
            yield from collector.collect()


def render(metrics_dir: str, live_samples: dict) -> bytes:
    """The exposition text: every process's metrics (from ``metrics_dir`` when set) plus the live gauges.

    Blocking (reads the multiprocess files): call it in a thread.
    """
    if metrics_dir:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=metrics_dir)
        base: Any = registry
    else:
        base = REGISTRY
    return generate_latest(_Sources([base, LiveCollector(live_samples)]))
