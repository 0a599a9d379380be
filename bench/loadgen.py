"""A small reusable load generator: N concurrent workers issue requests, latencies recorded.

    async def hit(session, i):
        async with session.get(f"{base}/health") as r:
            await r.read()
            return r.status

    result = await run_load(hit, concurrency=64, duration_s=10)
    print(result.rps, result.p99)

Latencies are in milliseconds. A request counts as an error when it raises or answers >= 500;
other statuses are kept in ``LoadResult.statuses`` so a benchmark can judge 4xx itself.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import ClientSession

#: One request: (session, sequence number) -> HTTP status.
MakeRequest = Callable[[ClientSession, int], Awaitable[int]]

#: Per-request client timeout, in seconds (a hung request must not hang the benchmark).
DEFAULT_TIMEOUT_S = 30.0


def percentile(sorted_values: array | list[float], q: float) -> float:
    """The ``q`` percentile (0..100, nearest-rank) of already sorted values; 0.0 when empty."""
    n = len(sorted_values)
    if n == 0:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * n))
    return float(sorted_values[min(rank, n) - 1])


@dataclass
class Latencies:
    """Latency samples in milliseconds, stored compactly (millions of polls fit in a few MB)."""

    samples: array = field(default_factory=lambda: array("d"))

    def add(self, ms: float) -> None:
        self.samples.append(ms)

    def extend(self, values: Iterable[float]) -> None:
        self.samples.extend(values)

    def __len__(self) -> int:
        return len(self.samples)

    def summary(self) -> dict[str, float]:
        """``{"count", "p50", "p95", "p99", "max"}`` in milliseconds."""
        ordered = sorted(self.samples)
        return {
            "count": len(ordered),
            "p50": percentile(ordered, 50),
            "p95": percentile(ordered, 95),
            "p99": percentile(ordered, 99),
            "max": float(ordered[-1]) if ordered else 0.0,
        }


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured. Latency percentiles are in milliseconds."""

    count: int
    errors: int
    elapsed_s: float
    rps: float
    p50: float
    p95: float
    p99: float
    statuses: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "count": self.count, "errors": self.errors, "elapsed_s": round(self.elapsed_s, 3),
            "rps": round(self.rps, 1), "p50_ms": round(self.p50, 2), "p95_ms": round(self.p95, 2),
            "p99_ms": round(self.p99, 2), "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


async def open_loop(items: Iterable, rate: float, start: Callable[[object], Awaitable]) -> list:
    """Start ``start(item)`` for each item, one every ``1/rate`` s from now (open loop: the pace
    does not slow down when the server does), then wait for them all. Returns their results in order."""
    t0 = time.perf_counter()
    tasks = []
    for i, item in enumerate(items):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(start(item)))
    return await asyncio.gather(*tasks)


def make_session(limit: int, *, timeout_s: float | None = DEFAULT_TIMEOUT_S) -> ClientSession:
    """A ClientSession sized for ``limit`` concurrent connections to one host.

    ``timeout_s=None`` sets no per-request timeout (only a connect timeout): aiohttp's timer
    per request costs noticeable CPU when a simulator holds 100,000 sleeping fans.
    """
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, force_close=False, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else aiohttp.ClientTimeout(total=None, sock_connect=10)
    return ClientSession(connector=connector, timeout=timeout)


async def run_load(
    make_request: MakeRequest,
    concurrency: int,
    duration_s: float | None = None,
    total: int | None = None,
    *,
    session: ClientSession | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> LoadResult:
    """Run ``concurrency`` workers until ``duration_s`` passes or ``total`` requests are issued.

    Give exactly one of ``duration_s`` / ``total`` (both: whichever ends first). A fresh
    session with ``concurrency`` connections is used unless ``session`` is passed. ``clock``
    (seconds) times the run and each request; a test may pass its own.
    Raises ValueError when neither bound is given or ``concurrency`` < 1.
    Returns the :class:`LoadResult`.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    if duration_s is None and total is None:
        raise ValueError("give duration_s or total: an unbounded load never ends")
    own = session is None
    session = session or make_session(concurrency)
    counter = itertools.count()
    latencies = Latencies()
    statuses: Counter[int] = Counter()
    errors = 0
    start = clock()
    deadline = start + duration_s if duration_s is not None else math.inf

    async def worker() -> None:
        nonlocal errors
        while clock() < deadline:
            i = next(counter)
            if total is not None and i >= total:
                return
            t0 = clock()
            try:
                status = await make_request(session, i)
            except (TimeoutError, aiohttp.ClientError, OSError):
                errors += 1
                statuses[0] += 1
                continue
            latencies.add((clock() - t0) * 1000.0)
            statuses[status] += 1
            if status >= 500:
                errors += 1

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        if own:
            await session.close()
    elapsed = clock() - start
    s = latencies.summary()
    count = sum(statuses.values())
    return LoadResult(count, errors, elapsed, count / elapsed if elapsed > 0 else 0.0,
                      s["p50"], s["p95"], s["p99"], dict(statuses))
