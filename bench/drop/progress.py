"""The room's shared progress document as the simulated fans read it, and when a fan must read
its own status instead (the same rule as the fan page, frontend/js/views/room-progress.js).

Every waiting fan polls ``GET /events/{id}/waiting-room/progress``, the one document all fans
share, and reads its own ``/status`` only when the pre-queue has been drawn (to learn its
place), when the progress says its place may have come (``admittedThrough >= position``), and
while admitted. Its first status is its join's answer. Between status reads, its status is the
last one moved on by the progress: the state, the countdown, the place ahead and the ETA.

A real crowd reads the progress through an edge cache (deploy/nginx/ticketdrop.conf): one
request per freshness lifetime reaches the web tier and concurrent misses wait for it
(``proxy_cache_lock``). :class:`SharedProgress` is that cache inside the simulator, so one
process of 100,000 simulated fans sends what an edge would send, not 100,000 times as much;
with ``edge=False`` every fan's progress poll is its own request.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from datetime import datetime
from typing import Any

from bench.drop.client import Api, Reply

_MAX_AGE = re.compile(r"max-age=(\d+)")


def needs_own_status(status: dict[str, Any], progress: dict[str, Any]) -> bool:
    """Whether a fan whose last status read is ``status`` must read it again, given the room's
    ``progress``: while admitted (its own clock), once the draw gave a pre-queue fan its place,
    and once the admissions reach its place. Nothing else in a queued fan's status is its own:
    the state (opening, pause, resume, sold out), the place ahead and the ETA follow from the
    progress (:func:`moved_on`), so a change of state sends no crowd to the web tier."""
    if status.get("admission") != "queued":
        return True
    if status.get("roomGeneration") != progress.get("roomGeneration"):
        return True  # the room was rebuilt after a data loss: the fan's place may have changed or gone
    position = status.get("position")
    if position is None:
        return bool(progress.get("drawn"))
    return (progress.get("admittedThrough") or 0) >= position


def from_join(join: dict[str, Any], now_s: float) -> dict[str, Any]:
    """The status a fan knows from its join's answer (``now_s``: the Unix time it arrived)."""
    on_sale = datetime.fromisoformat(join["onSaleAt"].replace("Z", "+00:00")).timestamp()
    return {"state": join.get("state"), "position": join.get("position"), "total": join.get("total"),
            "admission": "queued", "canEnter": False, "secondsUntilOnSale": max(0, math.ceil(on_sale - now_s)),
            "roomGeneration": join.get("roomGeneration")}


def moved_on(status: dict[str, Any], progress: dict[str, Any], elapsed_s: float = 0.0) -> dict[str, Any]:
    """``status`` (read ``elapsed_s`` ago) as the server would tell it now that the room is at
    ``progress``: the countdown to on-sale run down, the place ahead from ``admittedThrough``,
    and the ETA from the measured pace (positions per minute)."""
    position = status.get("position")
    through = progress.get("admittedThrough") or 0
    out = {**status, "state": progress.get("state"), "total": max(progress.get("total") or 0, position or 0),
           "secondsUntilOnSale": max(0, math.ceil((status.get("secondsUntilOnSale") or 0) - elapsed_s))}
    if position is not None:
        out["aheadOfYou"] = max(0, position - through - 1)
        per_s = (progress.get("positionsPerMinute") or 0) / 60.0
        out["etaSeconds"] = math.ceil((position - through) / per_s) if per_s > 0 else None
    return out


class SharedProgress:
    """The progress document through a simulated edge cache: fresh for the answer's
    ``Cache-Control: max-age``, one request at a time (concurrent readers wait for it)."""

    def __init__(self, api: Api, event_id: str, *, edge: bool = True) -> None:
        self._api = api
        self._path = f"/events/{event_id}/waiting-room/progress"
        self._edge = edge
        self._reply: Reply | None = None
        self._fresh_until = 0.0
        self._pending: asyncio.Future | None = None
        #: Progress polls answered by the simulated edge, without a request.
        self.edge_hits = 0

    async def read(self) -> Reply:
        """The progress reply a fan polling now would get."""
        if not self._edge:
            return await self._api.call("progress", "GET", self._path, poll=True)
        if self._reply is not None and time.monotonic() < self._fresh_until:
            self.edge_hits += 1
            return self._reply
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._fetch())
            self._pending.add_done_callback(lambda _: setattr(self, "_pending", None))
        else:
            self.edge_hits += 1
        return await asyncio.shield(self._pending)

    async def _fetch(self) -> Reply:
        reply = await self._api.call("progress", "GET", self._path, poll=True)
        if reply.status == 200:
            match = _MAX_AGE.search(reply.headers.get("Cache-Control", ""))
            self._reply = reply
            self._fresh_until = time.monotonic() + (int(match.group(1)) if match else 0)
        return reply
