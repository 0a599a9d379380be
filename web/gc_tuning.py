"""The web process's garbage collector, tuned for many short requests (issue 14).

With Python's default threshold (a young collection every 700 net container allocations) a web
process under a status-poll flood ran a young collection about every 200 requests, each about
0.7 ms on the bench machine, and every few seconds a full collection through everything
start-up made (about 90,000 objects, 90 ms). Together that was 3-4% of the process's CPU
(timed with ``gc.callbacks``; docs/benchmarks.md).

Requests free almost everything they make by reference counting; the collector is only needed
for the rare cycle. So the young generation gets a higher threshold (GC_GEN0_THRESHOLD: the
requests in flight never reach it, so it runs only when cycles pile up), and what start-up made
is frozen once the app is running (``gc.freeze``: never scanned again, as Instagram does for
its Django processes). Cycles are still collected.
"""

from __future__ import annotations

import gc

from aiohttp import web


def tune(app: web.Application, gen0_threshold: int) -> None:
    """Raise the young generation's threshold now and freeze the heap after ``app`` has started
    (its last start-up step). ``gen0_threshold`` 0 leaves the collector as Python sets it."""
    if gen0_threshold <= 0:
        return
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
    app.on_startup.append(_freeze)


async def _freeze(_app: web.Application) -> None:
    gc.collect()  # what start-up left as garbage is freed, not frozen
    gc.freeze()
