"""The expiry & recovery sweep: every job runs under its lease, failures are isolated, and the
real jobs are safe to run many times at once (holds released once, tickets issued once)."""

from __future__ import annotations

import logging
import threading

import pytest
import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

from models import sweeps
from models.context import request_id_var
from models.metrics import HOLDS_RELEASED, SWEEP_FAILURES, TICKETS_ISSUED
from models.tables import Reservation, Ticket
from tests.unit.models.checkout_factories import lapse, make_hold, make_order, make_tier, tier_counts
from workers.runtime import Runtime

CALLS: list[tuple[str, str | None]] = []


def job_a(rt) -> int:
    CALLS.append(("a", request_id_var.get()))
    return 2


def job_b(rt) -> dict:
    CALLS.append(("b", request_id_var.get()))
    raise RuntimeError("broken")


def job_c(rt) -> dict:
    CALLS.append(("c", request_id_var.get()))
    return {"events": 3, "rebuilt": 2}


@pytest.fixture
def fake_jobs(monkeypatch):
    CALLS.clear()
    here = __name__
    monkeypatch.setattr(sweeps, "JOBS", (("a", f"{here}:job_a", None), ("b", f"{here}:job_b", None), ("c", f"{here}:job_c", None)))
    yield
    CALLS.clear()


def test_a_sweep_runs_every_job_in_order_and_reports_each(runtime, fake_jobs):
    report = sweeps.run_all_sweeps(runtime)
    assert [name for name, _ in CALLS] == ["a", "b", "c"]
    assert report["a"]["status"] == "ok" and report["a"]["items"] == 2
    assert report["c"]["items"] == 5 and report["c"]["result"] == {"events": 3, "rebuilt": 2}


def test_a_failing_job_is_reported_counted_and_logged_and_the_others_still_run(runtime, fake_jobs, caplog):
    before = SWEEP_FAILURES.labels("b")._value.get()
    with caplog.at_level(logging.ERROR, logger="ticketdrop.sweeps"):
        report = sweeps.run_all_sweeps(runtime)
    assert report["b"] == {"status": "error", "error": "RuntimeError: broken"}
    assert report["c"]["status"] == "ok"
    assert SWEEP_FAILURES.labels("b")._value.get() == before + 1
    assert any(r.getMessage() == "sweep failed" and r.sweep == "b" for r in caplog.records)


def test_jobs_run_under_one_sweep_request_id(runtime, fake_jobs):
    sweeps.run_all_sweeps(runtime)
    ids = {rid for _, rid in CALLS}
    assert len(ids) == 1 and next(iter(ids)).startswith("sweep-")
    assert request_id_var.get() is None


BATCHES: list[int] = []


def job_batched(rt, *, limit: int) -> int:
    """Finds 2.5 batches of work."""
    done = min(limit, int(2.5 * limit) - sum(BATCHES))
    BATCHES.append(done)
    return done


def test_a_batched_job_runs_until_a_batch_comes_back_short(runtime):
    BATCHES.clear()
    report = sweeps.run_sweep(runtime, "batched", f"{__name__}:job_batched", 10)
    assert BATCHES == [10, 10, 5]
    assert report["items"] == 25


def test_a_job_whose_lease_another_process_holds_is_skipped(runtime, fake_jobs, redis, keys):
    redis.set(keys.sweep_lease("a"), "someone-else", px=60_000)
    report = sweeps.run_all_sweeps(runtime)
    assert report["a"] == {"status": "skipped"}
    assert [name for name, _ in CALLS] == ["b", "c"]


def test_leases_are_released_after_each_run(runtime, fake_jobs, redis, keys):
    sweeps.run_all_sweeps(runtime)
    assert redis.exists(keys.sweep_lease("a"), keys.sweep_lease("b"), keys.sweep_lease("c")) == 0
    assert sweeps.run_all_sweeps(runtime)["a"]["status"] == "ok"


def test_without_redis_the_jobs_still_run_unleased(runtime, fake_jobs):
    down = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    report = sweeps.run_all_sweeps(Runtime(runtime.settings, down, runtime.keys))
    assert report["a"]["status"] == "ok" and report["c"]["status"] == "ok"


def _concurrently(n: int, fn) -> None:
    """Start ``n`` threads on ``fn`` together and wait for them."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_concurrent_sweeps_release_each_expired_hold_exactly_once(runtime, redis, keys):
    tier = make_tier(capacity=20)
    holds = [make_hold(tier, f"fan-{i}", 2, redis=redis, keys=keys) for i in range(5)]
    live = make_hold(tier, "fan-live", 1, redis=redis, keys=keys)
    for h in holds:
        lapse(h)
    before = HOLDS_RELEASED.labels("expired")._value.get()
    # Unleased, as if every lease had lapsed: only the jobs' own idempotence protects the stock.
    _concurrently(4, lambda: sweeps.run_all_sweeps(runtime, lease=False))
    assert HOLDS_RELEASED.labels("expired")._value.get() == before + 5
    assert {r.status for r in Reservation.select().where(Reservation.id.in_([h.id for h in holds]))} == {"expired"}
    assert Reservation.get_by_id(live.id).status == "held"
    assert tier_counts(tier) == (0, 1)
    stock = redis.hgetall(keys.stock(str(tier.event_id)))
    assert (stock[str(tier.id)], stock[f"held:{tier.id}"]) == ("19", "1")


def test_concurrent_recovery_issues_each_missing_ticket_exactly_once(runtime):
    from datetime import timedelta

    from models.tables import Order, utcnow

    tier = make_tier(capacity=20)
    orders = [make_order(tier, f"fan-{i}", 3) for i in range(3)]
    # Paid a minute ago and never issued: the issuance message was lost.
    Order.update(created_at=utcnow() - timedelta(minutes=1)).where(Order.id.in_([o.id for o in orders])).execute()
    before = TICKETS_ISSUED._value.get()
    _concurrently(4, lambda: sweeps.run_all_sweeps(runtime, lease=False))
    assert TICKETS_ISSUED._value.get() == before + 9
    for order in orders:
        assert sorted(t.seq for t in Ticket.select().where(Ticket.order == order.id)) == [1, 2, 3]
    report = sweeps.run_all_sweeps(runtime)
    assert report["issue_missing_tickets"]["items"] == 0
