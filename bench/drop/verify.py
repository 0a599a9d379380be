"""The end-of-run verdict: database invariants, the fans' view, and Redis counters vs the database."""

from __future__ import annotations

import logging

import redis

from bench.drop import invariants
from models.db import bind_database, database, open_database
from models.keys import Keys
from models.redis import connect_sync
from models.settings import Settings

log = logging.getLogger("bench.drop")

#: What :func:`verify` checks, as the report lists it.
CHECKED = [
    "sold <= capacity and sold + held <= capacity for every tier",
    "sold == the sum of paid order quantities for every tier; no tickets left held",
    "tickets unique per (order, seq); every paid order has exactly its quantity of tickets, of its tier",
    "every order's checkout session is paid and its reservation converted; nobody over the per-event limit",
    "every reservation in a final state (rejected, expired, released, converted)",
    "admission waves contiguous from position 1, non-overlapping, admitted in position order",
    "nobody reserved before their wave; no queue position given to two fans",
    "every fan reached a final state, and what each fan saw matches the database",
    "Redis stock counters equal capacity - sold - held (when present)",
]


def verify(system, fans: list, event_id: str) -> dict:
    """Run every check against the system's stores (processes already stopped).

    Returns ``{"passed", "violations", "summary", "checked"}``.
    """
    settings = Settings.from_env(system.env)
    bind_database(open_database(settings.database_url, max_connections=2))
    positions = {f.user_id: f.position for f in fans if f.position is not None}
    admitted = {f.user_id: f.admitted_position for f in fans if f.admitted_position is not None}
    try:
        with database.connection_context():
            violations, summary = invariants.check_database(event_id, purchase_limit=settings.event_purchase_limit,
                                                            positions=positions, admitted=admitted)
            violations += invariants.check_fans(fans, invariants.paid_by_user(event_id))
    finally:
        if hasattr(database.obj, "close_all"):
            database.obj.close_all()
    violations += check_redis_counters(settings, event_id, summary["tiers"])
    for v in violations:
        log.error("VIOLATION: %s", v)
    return {"passed": not violations, "violations": violations, "summary": summary, "checked": CHECKED}


def check_redis_counters(settings: Settings, event_id: str, tiers: list[dict]) -> list[str]:
    """Redis's available-stock counter per tier equals capacity - sold - held (skipped when absent)."""
    client = connect_sync(settings.redis_url, decode_responses=True, socket_timeout=5)  # a cluster URL too
    try:
        stock = client.hgetall(Keys(settings.redis_prefix).stock(event_id))
    except redis.RedisError as exc:
        return [f"could not read the Redis counters: {exc}"]
    finally:
        client.close()
    violations = []
    for tier in tiers:
        value = stock.get(tier["tier_id"])
        expected = tier["capacity"] - tier["sold"] - tier["held"]
        if value is not None and int(value) != expected:
            violations.append(f"tier {tier['name']}: Redis says {value} available, the database {expected}")
    return violations
