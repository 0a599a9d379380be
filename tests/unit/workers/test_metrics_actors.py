"""Actor run time and failures are measured for every actor, by name."""

from __future__ import annotations

import logging

import dramatiq

from models.metrics import ACTOR_DURATION, ACTOR_FAILURES

QUEUE = "ops_metrics_test"


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def metrics_probe_ok() -> None:
    pass


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def metrics_probe_fails() -> None:
    raise RuntimeError("boom")


def _count(actor: str) -> float:
    for metric in ACTOR_DURATION.collect():
        for s in metric.samples:
            if s.name.endswith("_count") and s.labels == {"actor": actor}:
                return s.value
    return 0.0


def test_each_run_is_timed_by_actor_name(stub_broker, stub_worker):
    before = _count("metrics_probe_ok")
    for _ in range(3):
        metrics_probe_ok.send()
    stub_broker.join(QUEUE)
    stub_worker.join()
    assert _count("metrics_probe_ok") == before + 3


def test_a_failing_run_is_counted_and_logged_with_its_actor(stub_broker, stub_worker, caplog):
    failures = ACTOR_FAILURES.labels("metrics_probe_fails")
    before, timed = failures._value.get(), _count("metrics_probe_fails")
    with caplog.at_level(logging.WARNING, logger="ticketdrop.workers"):
        metrics_probe_fails.send()
        stub_broker.join(QUEUE, fail_fast=False)
        stub_worker.join()
    assert failures._value.get() == before + 1
    assert _count("metrics_probe_fails") == timed + 1
    failed = [r for r in caplog.records if r.getMessage() == "actor failed"]
    assert failed and failed[0].actor == "metrics_probe_fails" and "boom" in failed[0].error
