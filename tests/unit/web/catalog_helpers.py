"""Helpers for the catalogue API tests (also re-run on real servers by tests/integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from models.tables import TicketTier
from web.dbexec import run_db


def iso_in(**delta: float) -> str:
    """An ISO 8601 UTC timestamp ``delta`` from now."""
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def event_body(**overrides: Any) -> dict[str, Any]:
    body = {"name": "Lakers vs Warriors", "venue": "Crypto.com Arena, Los Angeles, CA",
            "starts_at": iso_in(days=30), "on_sale_at": iso_in(days=1)}
    body.update(overrides)
    return body


def tier_body(event_id: str, **overrides: Any) -> dict[str, Any]:
    body = {"event_id": event_id, "name": "Lower Level", "price_cents": 24_900, "capacity": 600}
    body.update(overrides)
    return body


async def create_event(client, headers, **overrides: Any) -> dict[str, Any]:
    resp = await client.post("/admin/events", json=event_body(**overrides), headers=headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def create_tier(client, headers, event_id: str, **overrides: Any) -> dict[str, Any]:
    resp = await client.post("/admin/tiers", json=tier_body(event_id, **overrides), headers=headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def set_counters(client, tier_id: str, *, sold: int = 0, held: int = 0) -> None:
    """Pretend reservations and orders took tickets (what the inventory does in real life)."""
    query = TicketTier.update(sold=sold, held=held).where(TicketTier.id == tier_id)
    await run_db(client.server.app, query.execute)


def fields(problem: dict[str, Any]) -> list[str]:
    return [e["field"] for e in problem.get("errors", [])]
