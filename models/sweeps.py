"""The expiry & recovery sweep: one pass of every idempotent repair job.

Run every SWEEP_INTERVAL_S by the scheduler, or by hand with ``make sweep`` /
``python -m ticketdrop sweep``. Each job takes a Redis lease (SET NX PX, released by token) so
several schedulers do not repeat each other's work; the jobs themselves are idempotent
(conditional UPDATEs), so an expired lease or a concurrent manual run is still safe. One failing
job is logged and counted; the others still run.
"""

from __future__ import annotations

import importlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis.exceptions

from models.context import request_id_var
from models.metrics import SWEEP_DURATION, SWEEP_FAILURES, SWEEPS

log = logging.getLogger("ticketdrop.sweeps")

#: The jobs, in order: release lapsed holds and admissions first, then repair checkouts and
#: tickets, finish the refunds of canceled events, then rebuild the Redis counters from the
#: database (the truth) once the rest is done, then offer free tickets the waitlists missed,
#: then restart reservation mailboxes nobody is draining. (name, "module:function", batch): the
#: function is called with rt, and with ``limit=batch`` again and again while it fills a batch.
JOBS: tuple[tuple[str, str, int | None], ...] = (
    ("expire_holds", "models.inventory:expire_due_holds", 1000),
    ("expire_admissions", "models.waiting_room:expire_admissions", None),
    ("expire_checkouts", "models.checkout:expire_stale_sessions", 500),
    ("issue_missing_tickets", "models.tickets:issue_missing_tickets", 500),
    ("refund_canceled_orders", "models.checkout.refunds:refund_canceled_orders", 200),
    ("reconcile_counters", "models.inventory:reconcile_all", None),
    ("waitlists", "models.waitlist.sweep:sweep_waitlists", None),
    ("kick_mailboxes", "models.inventory:kick_stalled_mailboxes", None),
)

#: A batched job keeps going for at most this share of SWEEP_INTERVAL_S: after a big drop's
#: holds lapse together, one pass returns thousands to sale instead of one batch per interval.
BATCH_BUDGET_SHARE = 0.5

#: A lease lives at least this long, in seconds (twice the sweep interval when that is longer),
#: so a crashed sweeper delays the next run by at most that much.
MIN_LEASE_S = 60.0


def _resolve(target: str) -> Callable[[Any], Any]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _items(result: Any) -> int:
    """How many things a job fixed: its int result, or the sum of a report's int values."""
    if isinstance(result, bool):
        return int(result)
    if isinstance(result, int):
        return result
    if isinstance(result, dict):
        return sum(_items(v) for v in result.values() if isinstance(v, (int, dict)))
    return 0


def _call(rt: Any, target: str, batch: int | None) -> Any:
    fn = _resolve(target)
    if batch is None:
        return fn(rt)
    deadline = time.monotonic() + rt.settings.sweep_interval_s * BATCH_BUDGET_SHARE
    total = 0
    while True:
        done = fn(rt, limit=batch)
        total += done
        if done < batch or time.monotonic() >= deadline:
            return total


def run_sweep(rt: Any, name: str, target: str, batch: int | None = None, *, lease: bool = True) -> dict[str, Any]:
    """Run one job under its lease (see :data:`JOBS` for ``batch``).

    Returns ``{"status": "ok", "items", "result", "duration_ms"}``, ``{"status": "skipped"}``
    (another process holds the lease) or ``{"status": "error", "error"}``. Never raises for the
    job's own failure."""
    lock = None
    if lease:
        ttl = max(MIN_LEASE_S, 2 * rt.settings.sweep_interval_s)
        lock = rt.redis.lock(rt.keys.sweep_lease(name), timeout=ttl, blocking=False)
        try:
            if not lock.acquire(blocking=False):
                return {"status": "skipped"}
        except (redis.exceptions.RedisError, OSError) as exc:
            # Without Redis there is no lease; the jobs are idempotent, so run them anyway.
            log.warning("sweep lease unavailable; running unleased", extra={"sweep": name, "error": type(exc).__name__})
            lock = None
    started = time.perf_counter()
    try:
        result = _call(rt, target, batch)
    except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
        SWEEP_FAILURES.labels(name).inc()
        log.exception("sweep failed", extra={"sweep": name})
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        elapsed = time.perf_counter() - started
        SWEEP_DURATION.labels(name).observe(elapsed)
        _release(lock, name)
    items = _items(result)
    SWEEPS.labels(name).inc(items)
    kind = "expiry" if name.startswith("expire") else "recovery"
    log.log(logging.INFO if items else logging.DEBUG, f"{kind} sweep" if items else "sweep found nothing",
            extra={"sweep": name, "items": items, "duration_ms": round(elapsed * 1000, 1)})
    return {"status": "ok", "items": items, "result": result, "duration_ms": round(elapsed * 1000, 1)}


def _release(lock: Any, name: str) -> None:
    if lock is None:
        return
    try:
        lock.release()
    except redis.exceptions.LockError:
        log.warning("sweep outlived its lease", extra={"sweep": name})
    except (redis.exceptions.RedisError, OSError):
        pass  # the lease expires by itself


def run_all_sweeps(rt: Any, *, lease: bool = True) -> dict[str, dict[str, Any]]:
    """One pass of every job in :data:`JOBS` (see :func:`run_sweep`). Returns name -> report.

    Log lines and any actor message a job sends carry a ``sweep-...`` request id.
    """
    token = request_id_var.set(request_id_var.get() or f"sweep-{uuid.uuid4().hex[:12]}")
    try:
        return {name: run_sweep(rt, name, target, batch, lease=lease) for name, target, batch in JOBS}
    finally:
        request_id_var.reset(token)
