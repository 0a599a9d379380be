"""The room's shared progress document as the simulated fans read it, and when a fan must read
its own status instead (the same rule as the fan page, frontend/js/views/room-progress.js).

Every waiting fan polls ``GET /events/{id}/waiting-room/progress``, the one document all fans
share, and reads its own ``/status`` only when the progress says its place may have come
(``admittedThrough >= position``), while admitted, and after a restore (``roomGeneration``).
Its first status is its join's answer. Between status reads, its status is the last one moved
on by the progress: the state, the countdown, the place ahead and the ETA.

A pre-queue fan learns its place from the draw without asking: once the progress says
``drawn``, it reads the revealed salt and pre-queue size (``GET .../waiting-room/fairness``,
one document for everyone, cached by the edge for an hour), computes its own
``HMAC-SHA256(salt, token)`` and from it where in the draw it must be
(:func:`place_estimate`), and reads its status only once the admissions come near that
(``admittedThrough >= earliestPosition``). So the draw sends no crowd to the web tier either:
the status reads follow the admissions, and fans the sale never reaches never read at all.

A real crowd reads the progress through an edge cache (deploy/nginx/ticketdrop.conf): one
request per freshness lifetime reaches the web tier and concurrent misses wait for it
(``proxy_cache_lock``). :class:`SharedProgress` is that cache inside the simulator, so one
process of 100,000 simulated fans sends what an edge would send, not 100,000 times as much;
with ``edge=False`` every fan's progress poll is its own request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
import time
from datetime import datetime
from typing import Any

from bench.drop.client import Api, Reply

_MAX_AGE = re.compile(r"max-age=(\d+)")


#: Hex digits of a fan's HMAC read as its fraction of the draw: 52 bits, exact in a double (the
#: page computes the same numbers in JavaScript).
_FRACTION_DIGITS = 13


def place_estimate(hmac_hex: str, prequeue_size: int) -> tuple[int, int]:
    """(expected place, earliest possible place) in the pre-queue draw of a fan whose draw HMAC
    is ``hmac_hex``, among ``prequeue_size`` fans. The place is 1 + the number of the other
    fans' HMACs below this one; the HMACs are uniform, so with u = HMAC / 2^256 that number is
    Binomial(P - 1, u): expected (P - 1)u, and by Hoeffding's inequality below it by more than
    4 sqrt(P) with probability under e^-32 (1e-14). The earliest place is that bound."""
    u = int(hmac_hex[:_FRACTION_DIGITS], 16) / 16 ** _FRACTION_DIGITS
    expected = 1 + math.floor((prequeue_size - 1) * u)
    return expected, max(1, expected - math.ceil(4 * math.sqrt(prequeue_size)))


def with_place_estimate(status: dict[str, Any], token: str, fairness: dict[str, Any]) -> dict[str, Any]:
    """``status`` with the place its fan computed from the revealed draw (``fairness``: the
    document of ``GET .../waiting-room/fairness``): ``estimatedPosition`` and
    ``earliestPosition``, both None when the draw is not revealed (then the fan reads its status)."""
    salt, size = fairness.get("salt"), fairness.get("prequeue_size")
    if not salt or not size:
        return {**status, "estimatedPosition": None, "earliestPosition": None}
    mine = hmac.new(bytes.fromhex(salt), token.encode("ascii"), hashlib.sha256).hexdigest()
    expected, earliest = place_estimate(mine, size)
    return {**status, "estimatedPosition": expected, "earliestPosition": earliest}


def wants_place_estimate(status: dict[str, Any], progress: dict[str, Any]) -> bool:
    """Whether a queued pre-queue fan should compute its place from the draw now: the progress
    says the pre-queue is drawn, and it has neither a place nor an estimate yet."""
    return (status.get("admission") == "queued" and status.get("position") is None and bool(progress.get("drawn"))
            and "earliestPosition" not in status)


def needs_own_status(status: dict[str, Any], progress: dict[str, Any]) -> bool:
    """Whether a fan whose last status read is ``status`` must read it again, given the room's
    ``progress``: while admitted (its own clock), once the admissions reach its place (for a
    pre-queue fan after the draw, the earliest place its estimate allows; without an estimate,
    at once) and after a restore. Nothing else in a queued fan's status is its own: the state
    (opening, pause, resume, sold out), the place ahead and the ETA follow from the progress
    (:func:`moved_on`), so neither a change of state nor the draw sends a crowd to the web tier."""
    if status.get("admission") != "queued":
        return True
    if status.get("roomGeneration") != progress.get("roomGeneration"):
        return True  # the room was rebuilt after a data loss: the fan's place may have changed or gone
    position = status.get("position")
    if position is None:
        if not progress.get("drawn"):
            return False
        position = status.get("earliestPosition")
        if position is None:
            return True  # no estimate (the draw is not revealed yet): ask
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
    and the ETA from the measured pace (positions per minute); a pre-queue fan counts them from
    its estimated place (:func:`with_place_estimate`) until it reads the real one."""
    position = status.get("position")
    if position is None and progress.get("drawn"):
        position = status.get("estimatedPosition")
    through = progress.get("admittedThrough") or 0
    out = {**status, "state": progress.get("state"), "total": max(progress.get("total") or 0, status.get("position") or 0),
           "secondsUntilOnSale": max(0, math.ceil((status.get("secondsUntilOnSale") or 0) - elapsed_s))}
    if position is not None:
        out["aheadOfYou"] = max(0, position - through - 1)
        per_s = (progress.get("positionsPerMinute") or 0) / 60.0
        out["etaSeconds"] = math.ceil((position - through) / per_s) if per_s > 0 else None
    return out


class SharedProgress:
    """The progress document (or another document every fan shares: ``document="fairness"``)
    through a simulated edge cache: fresh for the answer's ``Cache-Control: max-age``, one
    request at a time (concurrent readers wait for it)."""

    def __init__(self, api: Api, event_id: str, *, edge: bool = True, document: str = "progress") -> None:
        self._api = api
        self._endpoint = document
        self._path = f"/events/{event_id}/waiting-room/{document}"
        self._edge = edge
        self._reply: Reply | None = None
        self._fresh_until = 0.0
        self._pending: asyncio.Future | None = None
        #: Reads answered by the simulated edge, without a request.
        self.edge_hits = 0

    async def read(self) -> Reply:
        """The reply a fan reading the document now would get."""
        if not self._edge:
            return await self._api.call(self._endpoint, "GET", self._path, poll=True)
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
        reply = await self._api.call(self._endpoint, "GET", self._path, poll=True)
        if reply.status == 200:
            match = _MAX_AGE.search(reply.headers.get("Cache-Control", ""))
            self._reply = reply
            self._fresh_until = time.monotonic() + (int(match.group(1)) if match else 0)
        return reply
