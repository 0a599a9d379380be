"""How late the web process's event loop runs: a timer every LAG_INTERVAL_S, its lateness counted.

Every request waits behind whatever else the loop is doing (other requests' handlers, a long
callback, the collector, a thread holding the GIL, the process waiting for a core); a status
poll whose handler takes microseconds still answers only when the loop gets to it. The histogram
``ticketdrop_event_loop_lag_seconds`` shows that wait: the handlers' own time is
``ticketdrop_http_request_duration_seconds`` (web.metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiohttp import web

from models.metrics import EVENT_LOOP_LAG

#: How often the loop's lateness is measured, in seconds (20 timers a second cost nothing measurable).
LAG_INTERVAL_S = 0.05


async def watch(observe: Callable[[float], None], interval_s: float = LAG_INTERVAL_S) -> None:
    """Forever: sleep ``interval_s`` and ``observe`` how many seconds later than due the loop woke."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        observe(max(0.0, loop.time() - due))  # the loop may run a timer up to its clock resolution early


async def loop_lag_ctx(_app: web.Application):
    """Measure the loop's lag while the app runs."""
    task = asyncio.ensure_future(watch(EVENT_LOOP_LAG.observe))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
