"""The web tier's own view of a phase: its request timings per route and its event loop's lag,
read from the web processes' Prometheus multiprocess files at the phase's ends (issue 14).

The simulator's latencies (bench.drop.client) run from the moment a request has a connection
until the simulator's loop has read the answer, so they hold the kernel, the web process's
loop (``ticketdrop_event_loop_lag_seconds``, web.looplag), its handler
(``ticketdrop_http_request_duration_seconds``) and the simulator's own loop. Taking two
readings and subtracting them gives the web tier's figures for what happened in between; a
quantile is interpolated inside its histogram bucket, as Prometheus' ``histogram_quantile``
does, so it is only as fine as the buckets (web processes hand their timings over once a
second, web.metrics.FLUSH_INTERVAL_S).

A loop's lag is also given as the share of the time the loop was late (:func:`late_share`): the
lag is sampled by a timer, and a stalled loop runs few timers, so its percentiles over the
timers understate a stall (one timer seen 1 s late stands for a whole second of requests).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from web.looplag import LAG_INTERVAL_S

HTTP = "ticketdrop_http_request_duration_seconds"
LAG = "ticketdrop_event_loop_lag_seconds"
#: The series name of the loop's lag in a :class:`Reading` (routes are named by their template).
LOOP = "event loop lag"


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts per upper bound (the last bound is +Inf), in seconds."""

    bounds: tuple[float, ...]
    counts: tuple[float, ...]
    #: Sum of the observed values, in seconds.
    total: float = 0.0

    @property
    def count(self) -> float:
        return self.counts[-1] if self.counts else 0.0

    def minus(self, earlier: Histogram | None) -> Histogram:
        if earlier is None:
            return self
        if earlier.bounds != self.bounds:
            raise ValueError("histograms with different buckets")
        return Histogram(self.bounds, tuple(a - b for a, b in zip(self.counts, earlier.counts, strict=True)),
                         self.total - earlier.total)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0..1) in seconds, interpolated in its bucket; None when empty;
        the highest finite bound when it falls in the +Inf bucket."""
        if self.count <= 0:
            return None
        rank = q * self.count
        below, lower = 0.0, 0.0
        for bound, cumulative in zip(self.bounds, self.counts, strict=True):
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower
                inside = cumulative - below
                return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
            below, lower = cumulative, bound
        return lower


#: Series name (a route template, or LOOP) -> its histogram, summed over processes, methods and statuses.
Reading = dict[str, Histogram]


def read(metrics_dirs: Iterable[Path]) -> Reading:
    """The web tier's request timings per route and its loop lag, as the multiprocess files in
    ``metrics_dirs`` hold them now (blocking: call it in a thread)."""
    buckets: dict[str, dict[float, float]] = {}
    totals: dict[str, float] = {}
    for folder in metrics_dirs:
        if not Path(folder).is_dir():
            continue
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(folder))
        for family in registry.collect():
            if family.name not in (HTTP, LAG):
                continue
            for sample in family.samples:
                series = sample.labels.get("route", "") if family.name == HTTP else LOOP
                if sample.name.endswith("_sum"):
                    totals[series] = totals.get(series, 0.0) + sample.value
                if not sample.name.endswith("_bucket"):
                    continue
                bound = float(sample.labels["le"])
                per_bound = buckets.setdefault(series, {})
                per_bound[bound] = per_bound.get(bound, 0.0) + sample.value
    return {series: Histogram(tuple(sorted(b)), tuple(b[k] for k in sorted(b)), totals.get(series, 0.0))
            for series, b in buckets.items()}


def late_share(lag_s: float, timers: float, interval_s: float = LAG_INTERVAL_S) -> float | None:
    """The share of the time a loop ran late, from the lag summed over ``timers`` timers each
    due ``interval_s`` after the previous one ran (each covered interval + its lag)."""
    elapsed = lag_s + timers * interval_s
    return lag_s / elapsed if elapsed > 0 else None


def between(start: Reading | None, end: Reading | None) -> dict[str, dict[str, float | None]]:
    """Per series, what happened between two readings: ``{"count", "p50_ms", "p99_ms"}``, and for
    the loop's lag its ``late_share`` too."""
    if end is None:
        return {}
    table = {}
    for series, histogram in sorted(end.items()):
        part = histogram.minus((start or {}).get(series))
        if part.count <= 0:
            continue
        p50, p99 = part.quantile(0.5), part.quantile(0.99)
        table[series] = {"count": int(part.count), "p50_ms": None if p50 is None else round(p50 * 1000, 1),
                         "p99_ms": None if p99 is None else round(p99 * 1000, 1)}
        if series == LOOP:
            table[series]["late_share"] = round(late_share(part.total, part.count), 3)
    return table
