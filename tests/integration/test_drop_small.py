"""The drop simulator, small: about 1,000 fans against the real system, with and without faults.

Each run starts the whole system (web processes, workers, scheduler) like ``make drop`` does
and fails when any invariant read back from the database is broken.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.drop.chaos import ChaosPlan
from bench.drop.fans import Plan
from bench.drop.run import DropConfig, run_drop
from tests.integration.conftest import REDIS_URL, _ping, postgres_server_url, require
from ticketdrop import embedded_redis

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _small(tmp_path, **overrides) -> DropConfig:
    base = dict(
        fans=1_000, late_fans=100, late_window_s=5.0, capacity_share=0.3, wave_size=40, wave_interval_s=0.5,
        # The deadline only ends a run that hangs: a passing one ends when its last fan does (50-80 s
        # on a 2-core machine with the chaos below, and over 100 s on slower CI machines).
        hold_ttl_s=8, offer_ttl_s=8, sweep_interval_s=1.0, connections=64, poll_connections=32, deadline_s=300.0,
        baseline_requests=3_000,
        # A fifth of the fans told "sold out" join the waitlist, wait 10 s for an offer and poll it
        # every second; offers are held as long as holds, so the run drains like any other.
        plan=Plan(poll_s=0.5, poll_max_s=2.0, waitlist_share=0.2, waitlist_patience_s=10.0, waitlist_poll_s=1.0),
        out=tmp_path / "report",
        postgres_url=require("PostgreSQL", postgres_server_url), command="pytest tests/integration/test_drop_small.py",
    )
    return DropConfig(**{**base, **overrides})


def _run(cfg: DropConfig) -> dict:
    code, path = asyncio.run(run_drop(cfg))
    results = json.loads((path.parent / "results.json").read_text())
    assert results["invariants"]["violations"] == [], _story(results)
    assert code == 0, _story(results)
    return results


def _story(results: dict) -> str:
    """What a failed run's report says happened, for the CI log (the report itself stays behind)."""
    timeline = results["timeline"]
    columns = ("t", "admitted_up_to", "held", "sold", "remaining", "queue_waiting")
    rows = [" ".join(f"{c}={timeline[c][i]}" for c in columns) for i in range(0, len(timeline["t"]), 4)]
    events = [f"{t} {kind} {detail}" for t, kind, detail in (results.get("chaos") or {}).get("events", [])[:12]]
    return "\n".join([f"marks: {results['marks']}", f"outcomes: {results['fans']['outcomes']}", *events, *rows])


def test_a_small_drop_sells_out_and_keeps_every_invariant(tmp_path):
    require("Redis", lambda: _ping(REDIS_URL))
    results = _run(_small(tmp_path, redis_url=REDIS_URL))
    outcomes = results["fans"]["outcomes"]
    assert outcomes.get("bought", 0) > 0
    assert outcomes.get("payment_failed", 0) > 0 and outcomes.get("abandoned", 0) > 0
    assert results["marks"]["sold_out_after_s"] is not None
    assert sum(outcomes.values()) == 1_100
    assert results["fans"]["waitlist"]["joined"] > 0
    # The status prober's own process read real fans' statuses in the on-sale, and the report says so.
    on_sale = results["prober"]["by_phase"]["on-sale to sold out"]["status"]
    assert on_sale["count"] > 0 and on_sale["statuses"].get("200", 0) > 0
    assert "status, prober p50 / p99" in (tmp_path / "report" / "report.md").read_text()


def test_a_small_drop_under_worker_kills_a_web_restart_a_redis_loss_and_duplicate_deliveries_keeps_every_invariant(
        tmp_path):
    require("redis-server", embedded_redis.server_binary)
    chaos = ChaosPlan(kill_every_s=2.0, web_restart_after_s=2.0, redis_restart_after_s=6.0, recovery_timeout_s=40.0)
    results = _run(_small(tmp_path, chaos=chaos, capacity_share=0.5, wave_size=20))
    report = results["chaos"]
    assert report["kills"] >= 2
    assert report["duplicates"] > 0
    assert report["recovery"].get("web_downtime_s") is not None
    assert report["recovery"].get("redis_counters_s") is not None
    assert report["recovery"].get("room_restored_s") is not None
    assert results["fans"]["outcomes"].get("bought", 0) > 0
