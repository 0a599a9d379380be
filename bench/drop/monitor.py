"""Samples the drop once a second: the operator's status document and the fans' stages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.drop.client import Api, DeadlineReached

#: Seconds between samples.
SAMPLE_INTERVAL_S = 1.0


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def flatten(status: dict) -> dict[str, float]:
    """The numbers the charts need from /admin/events/{id}/status, whatever nesting it uses."""
    queue = status.get("queue") if isinstance(status.get("queue"), dict) else {}
    out = {
        "capacity": _num(status.get("capacity")),
        "sold": _num(status.get("sold")),
        "held": _num(status.get("held")),
        "remaining": _num(status.get("remaining")),
        "queue_waiting": _num(queue.get("waiting", status.get("waiting"))),
        "queue_admitted": _num(queue.get("admitted", status.get("admitted"))),
        "queue_expired": _num(queue.get("expired", status.get("expired"))),
        "admitted_up_to": _num(status.get("admitted_up_to", queue.get("admitted_up_to"))),
        "orders_paid": _num(status.get("orders_paid")),
        "reservation_rate_per_s": _num(status.get("reservation_rate_per_s")),
        "waitlist": _num(status.get("waitlist")),
        "offers_outstanding": _num(status.get("offers_outstanding")),
    }
    return {k: v for k, v in out.items() if v is not None}


@dataclass
class Monitor:
    api: Api
    event_id: str
    stages: Any
    #: (seconds since start, flattened operator status, fan stage counts)
    samples: list[tuple[float, dict, dict]] = field(default_factory=list)
    failures: int = 0
    #: Optional extra reading merged into each sample (the simulator's direct look at Redis).
    probe: Callable[[], Awaitable[dict[str, float]]] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        path = f"/admin/events/{self.event_id}/status"
        while not stop.is_set():
            t = self.api.recorder.now()
            status: dict = {}
            try:
                reply = await asyncio.wait_for(self.api.once("admin_status", "GET", path, headers=self.api.admin_headers,
                                                             use_slot=False), 5)
                if reply.status == 200 and isinstance(reply.data, dict):
                    status = flatten(reply.data)
                else:
                    self.failures += 1
            except (TimeoutError, DeadlineReached, OSError, Exception):  # noqa: BLE001 - chaos makes it fail; keep sampling
                self.failures += 1
            if self.probe is not None:
                try:
                    status.update(await asyncio.wait_for(self.probe(), 2))
                except Exception:  # noqa: BLE001 - Redis may be down on purpose
                    pass
            self.samples.append((t, status, {k: v for k, v in self.stages.items() if v}))
            try:
                await asyncio.wait_for(stop.wait(), SAMPLE_INTERVAL_S)
            except TimeoutError:
                pass

    def latest(self, key: str) -> float | None:
        for _, status, _ in reversed(self.samples):
            if key in status:
                return status[key]
        return None


def redis_probe(client: Any, keys: Any, event_id: str) -> Callable[[], Awaitable[dict[str, float]]]:
    """Reads the event's stock counters and room hash straight from Redis (diagnostics only)."""

    async def probe() -> dict[str, float]:
        stock = await client.hgetall(keys.stock(event_id))
        room = await client.hgetall(keys.room(event_id))
        out: dict[str, float] = {}
        if stock:
            out["redis_available"] = sum(int(v) for k, v in stock.items() if ":" not in k and v.lstrip("-").isdigit())
            out["redis_held"] = sum(int(v) for k, v in stock.items() if k.startswith("held:") and v.lstrip("-").isdigit())
        for name in ("up_to", "used", "expired", "pre", "seq"):
            if str(room.get(name, "")).isdigit():
                out[f"redis_room_{name}"] = float(room[name])
        # Who is deciding: requests waiting, the drainer's lease, and the age of the drain and
        # settle flags (a stuck drop shows here: requests waiting with nobody draining them).
        pipe = client.pipeline(transaction=False)
        pipe.llen(keys.mailbox(event_id))
        pipe.pttl(keys.event_lease(event_id))
        pipe.get(keys.drain_flag(event_id))
        pipe.get(keys.settle_flag(event_id))
        try:
            mailbox, lease_ms, drain_flag, settle_flag = await pipe.execute()
        except Exception:  # noqa: BLE001 - diagnostics only: keep the counters read above
            return out
        now_ms = int(time.time() * 1000)  # the flags hold the writers' wall clock
        out["redis_mailbox"] = float(mailbox)
        out["redis_drain_lease_ms"] = float(max(0, int(lease_ms)))
        if str(drain_flag or "").isdigit():
            out["redis_drain_flag_age_ms"] = float(now_ms - int(drain_flag))
        if str(settle_flag or "").isdigit():
            out["redis_settle_flag_age_ms"] = float(now_ms - int(settle_flag))
        return out

    return probe
