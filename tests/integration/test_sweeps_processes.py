"""Several processes sweep at once (`python -m ticketdrop sweep`, as several schedulers or an
operator's `make sweep` next to the scheduler would) on real PostgreSQL and Redis: every
expired hold is released by exactly one of them, every missing ticket issued exactly once."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from models.settings import ROOT
from models.tables import Order, Reservation, Ticket, utcnow
from tests.unit.models.checkout_factories import lapse, make_hold, make_order, make_tier, tier_counts

pytestmark = pytest.mark.integration

PROCESSES = 3


def _sweep_env(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    return {**env, "PYTHONPATH": str(ROOT), "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
            "REDIS_PREFIX": settings.redis_prefix, "BROKER_URL": "stub://", "ADMIN_TOKEN": settings.admin_token,
            "SECRET_KEY": settings.secret_key}


def test_sweeps_in_several_processes_release_holds_and_issue_tickets_exactly_once(settings, db, redis, keys):
    tier = make_tier(capacity=40)
    holds = [make_hold(tier, f"fan-{i}", 2, redis=redis, keys=keys) for i in range(6)]
    for h in holds:
        lapse(h)
    orders = [make_order(tier, f"buyer-{i}", 3) for i in range(3)]
    Order.update(created_at=utcnow() - timedelta(minutes=1)).where(Order.id.in_([o.id for o in orders])).execute()
    env = _sweep_env(settings)
    procs = [subprocess.Popen([sys.executable, "-m", "ticketdrop", "sweep"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        reports.append(ast.literal_eval(out.strip().splitlines()[-1]))

    released = sum(r["expire_holds"].get("items", 0) for r in reports)
    issued = sum(r["issue_missing_tickets"].get("items", 0) for r in reports)
    assert released == 6 and issued == 9
    assert all(r[name]["status"] in ("ok", "skipped") for r in reports for name in r)
    assert {r.status for r in Reservation.select().where(Reservation.id.in_([h.id for h in holds]))} == {"expired"}
    sold, held = tier_counts(tier)
    assert held == 0
    for order in orders:
        assert sorted(t.seq for t in Ticket.select().where(Ticket.order == order.id)) == [1, 2, 3]
    stock = redis.hgetall(keys.stock(str(tier.event_id)))
    # The reconcile ran after the expiry: Redis agrees with the database.
    assert (stock[str(tier.id)], stock[f"held:{tier.id}"]) == (str(40 - sold - held), "0")
