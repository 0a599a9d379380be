"""The web process measures how late its event loop runs (web/looplag.py) and reports it at /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import time

from prometheus_client.parser import text_string_to_metric_families

from web import looplag


async def _watched(interval_s: float, while_watching) -> list[float]:
    seen: list[float] = []
    task = asyncio.ensure_future(looplag.watch(seen.append, interval_s))
    await asyncio.sleep(interval_s / 2)  # the watcher's first timer is set
    await while_watching()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return seen


async def test_a_loop_blocked_by_a_callback_is_seen_late_by_as_long_as_it_was_blocked():
    async def block() -> None:
        time.sleep(0.2)  # what a synchronous call in a handler does to every request in flight
        await asyncio.sleep(0.05)

    seen = await _watched(0.01, block)
    assert max(seen) >= 0.18


async def test_a_loop_that_is_free_is_never_seen_early():
    seen = await _watched(0.01, lambda: asyncio.sleep(0.1))
    assert seen
    assert min(seen) >= 0.0


async def test_the_app_reports_its_loop_lag_at_metrics(client):
    await asyncio.sleep(looplag.LAG_INTERVAL_S * 3)
    resp = await client.get("/metrics")
    families = {f.name: f.samples for f in text_string_to_metric_families(await resp.text())}
    counts = [s.value for s in families["ticketdrop_event_loop_lag_seconds"] if s.name.endswith("_count")]
    assert counts and counts[0] >= 1
