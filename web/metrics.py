"""HTTP latency metrics (counted cheaply, handed to prometheus-client in bulk) and the /metrics exposition.

With PROMETHEUS_MULTIPROC_DIR set, every web, worker and scheduler process writes its counters
to files there and a scrape sums them (prometheus-client multiprocess mode); otherwise the
scrape reads this process's registry. Gauges that describe shared state (queue length, live
holds...) are computed at scrape time from Redis and the database, never kept per process.
"""

from __future__ import annotations

import asyncio
import contextlib
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from models.metrics import HTTP_REQUEST_DURATION, LiveCollector, flush_tallies

#: Text format 0.0.4: what every Prometheus server (and prometheus-client's parser) reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: How often the web process hands its request timings to prometheus-client, in seconds.
FLUSH_INTERVAL_S = 1.0


#: The route label of requests no route takes: labels are route templates (``/events/{id}``), never
#: raw paths, so they stay few (the edge step, web.middleware, knows each route's label).
UNMATCHED = "unmatched"


class RequestTimings:
    """HTTP latency histogram counts kept in plain lists, handed to prometheus-client in bulk.

    ``HTTP_REQUEST_DURATION.labels(...).observe()`` costs a lock, a label lookup and, in
    multiprocess mode, writes to a memory-mapped file: about ten times this class's
    ``observe`` (a bisect and two list updates), measured on the status poll. ``flush()`` adds
    what was seen since the last flush to the histogram's children: every FLUSH_INTERVAL_S,
    and by /metrics right before it renders, so a scrape of this process is exact.
    """

    def __init__(self, histogram: Any = HTTP_REQUEST_DURATION) -> None:
        self._histogram = histogram
        self._bounds = tuple(histogram._upper_bounds)  # ends with +Inf
        #: (method, route, status) -> [sum of seconds, count in bucket 0, 1, ...]
        self._pending: dict[tuple[str, str, int], list] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = [0.0] + [0] * len(self._bounds)
        entry[0] += seconds
        entry[1 + bisect_left(self._bounds, seconds)] += 1

    def flush(self) -> None:
        """Add the pending counts to prometheus-client (the event loop's thread only)."""
        pending, self._pending = self._pending, {}
        for (method, route, status), entry in pending.items():
            child = self._histogram.labels(method if method in _METHODS else "OTHER", route, str(status))
            # Histogram.observe() adds to _sum and to one of _buckets (stored per bucket, not
            # cumulative); the same, n at a time. tests/unit/web/test_metrics.py checks the
            # result against observe() so a prometheus-client upgrade cannot silently break it.
            child._sum.inc(entry[0])
            for i, count in enumerate(entry[1:]):
                if count:
                    child._buckets[i].inc(count)


#: This process's request timings (the edge step observes, a task flushes).
TIMINGS = RequestTimings()


def flush() -> None:
    """Hand this process's request timings and tallies (models.metrics.Tally) to prometheus-client."""
    TIMINGS.flush()
    flush_tallies()


async def flush_timings_ctx(app: web.Application):
    """:func:`flush` every FLUSH_INTERVAL_S while the app runs, and once at shutdown."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            flush()

    task = asyncio.ensure_future(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    flush()


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
