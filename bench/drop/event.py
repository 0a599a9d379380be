"""Creating the drop's event through the admin API, and opening its sale."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.drop.client import Api


@dataclass(frozen=True)
class TierSpec:
    name: str
    price_cents: int
    capacity: int
    per_user_limit: int = 4


def parse_tiers(spec: str) -> list[TierSpec]:
    """``"GA:5000:600,VIP:15000:100:2"`` -> tiers (name:price_cents:capacity[:per_user_limit]).

    Raises ValueError naming the bad part.
    """
    tiers = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        fields = part.split(":")
        if len(fields) not in (3, 4):
            raise ValueError(f"tier {part!r}: use name:price_cents:capacity[:per_user_limit]")
        try:
            numbers = [int(f) for f in fields[1:]]
        except ValueError:
            raise ValueError(f"tier {part!r}: price, capacity and limit are whole numbers") from None
        tiers.append(TierSpec(fields[0], *numbers))
    if not tiers:
        raise ValueError("at least one tier is needed")
    return tiers


def default_tiers(total: int) -> list[TierSpec]:
    """Three tiers sharing ``total`` tickets 60/30/10 (GA, Floor, VIP)."""
    total = max(total, 3)
    vip = max(1, total // 10)
    floor = max(1, total * 3 // 10)
    return [TierSpec("GA", 5_500, total - vip - floor), TierSpec("Floor", 9_500, floor), TierSpec("VIP", 25_000, vip, 2)]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def create_event(api: Api, name: str, tiers: list[TierSpec], *, wave_size: int, wave_interval_s: float) -> tuple[str, list[dict]]:
    """A scheduled event whose sale opens in a day (moved to "now" by :func:`open_sale`) and its tiers.

    Raises RuntimeError when the API refuses. Returns (event id, tier documents).
    """
    now = datetime.now(UTC)
    reply = await api.admin("POST", "/admin/events", {
        "name": name, "venue": "Simulated Arena", "description": "Created by bench.drop",
        "starts_at": _iso(now + timedelta(days=30)), "on_sale_at": _iso(now + timedelta(days=1)),
        "status": "scheduled", "wave_size": wave_size, "wave_interval_s": wave_interval_s,
    })
    if reply.status != 201:
        raise RuntimeError(f"creating the event failed: {reply.status} {reply.data}")
    event_id = reply.data["id"]
    created = []
    for tier in tiers:
        reply = await api.admin("POST", "/admin/tiers", {
            "event_id": event_id, "name": tier.name, "price_cents": tier.price_cents,
            "capacity": tier.capacity, "per_user_limit": tier.per_user_limit,
        })
        if reply.status != 201:
            raise RuntimeError(f"creating tier {tier.name} failed: {reply.status} {reply.data}")
        created.append(reply.data)
    return event_id, created


async def open_sale(api: Api, event_id: str, lead_s: float) -> None:
    """Move on_sale_at to ``lead_s`` from now, wait for that moment, then mark the event on sale.

    Raises RuntimeError when the API refuses either change.
    """
    at = datetime.now(UTC) + timedelta(seconds=lead_s)
    reply = await api.admin("PATCH", f"/admin/events/{event_id}", {"on_sale_at": _iso(at)})
    if reply.status != 200:
        raise RuntimeError(f"moving on_sale_at failed: {reply.status} {reply.data}")
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))
    reply = await api.admin("GET", f"/admin/events/{event_id}")
    if reply.status == 200 and reply.data.get("status") == "scheduled":
        reply = await api.admin("PATCH", f"/admin/events/{event_id}", {"status": "on_sale"})
        if reply.status != 200:
            raise RuntimeError(f"opening the sale failed: {reply.status} {reply.data}")
