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

A real crowd reads the progress through an edge cache (deploy/nginx/ticketdrop.conf).
:class:`SharedProgress` is that cache inside the simulator, following the configuration's
nginx rules, so one process of 100,000 simulated fans sends what an edge would send, not
100,000 times as much, and waits where a fan behind that edge would wait; with ``edge=False``
every fan's progress poll is its own request.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from datetime import datetime
from typing import Any

from bench.drop.client import Api, Reply

_MAX_AGE = re.compile(r"max-age=(\d+)")
#: Cache-Control directives with which nginx does not store an answer at all.
_UNCACHEABLE = re.compile(r"no-cache|no-store|private")
#: deploy/nginx/ticketdrop.conf's proxy_cache_lock_timeout, and nginx's own constants: a request
#: waiting for the lock looks again every 0.5 s (ngx_http_file_cache_lock_wait), and a request
#: populating an entry holds the lock for at most proxy_cache_lock_age (default 5 s).
LOCK_TIMEOUT_S = 1.0
LOCK_CHECK_S = 0.5
LOCK_AGE_S = 5.0


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


def edge_max_age(headers: Any) -> int:
    """Seconds nginx keeps an answer with these headers (0: it does not store it): the
    ``Cache-Control: max-age``, unless ``no-cache``, ``no-store`` or ``private`` (or max-age=0)
    say not to; without Cache-Control nothing is stored (the configuration has no proxy_cache_valid)."""
    control = headers.get("Cache-Control", "")
    match = _MAX_AGE.search(control)
    if match is None or _UNCACHEABLE.search(control):
        return 0
    return int(match.group(1))


class SharedProgress:
    """The progress document (or another document every fan shares: ``document="fairness"``)
    through a simulated edge cache with the rules of deploy/nginx/ticketdrop.conf's location:

    - fresh (``Cache-Control: max-age`` of the answer, or of the 304 that revalidated it, in
      nginx's whole seconds: stored at second S with max-age N, fresh through second S + N):
      the stored answer;
    - expired while another request updates it (``proxy_cache_use_stale updating``): the
      stored answer, at once;
    - expired, nobody updating: this reader updates it, with ``If-None-Match``
      (``proxy_cache_revalidate on``), and waits for it; a 304 refreshes the stored answer;
    - nothing stored while another request fetches it (``proxy_cache_lock on``): wait, looking
      every 0.5 s, for at most ``proxy_cache_lock_timeout`` (1 s); then a request of its own,
      whose answer is not stored;
    - an answer nginx does not store (no max-age, max-age=0, no-cache, errors) goes to its
      reader only, and an expired entry stays as it was.
    """

    def __init__(self, api: Api, event_id: str, *, edge: bool = True, document: str = "progress") -> None:
        self._api = api
        self._clock = api.clock
        self._endpoint = document
        self._path = f"/events/{event_id}/waiting-room/{document}"
        self._edge = edge
        self._reply: Reply | None = None
        #: nginx's valid_sec: the stored answer is fresh while int(clock.time()) <= it (Unix seconds).
        self._valid_sec = 0
        self._updating: object | None = None  # the one request updating the stored answer
        self._lock_until = 0.0
        #: Reads answered by the simulated edge, without a request of their own.
        self.edge_hits = 0
        #: Of those, the ones answered with an expired copy while another request updated it.
        self.stale_hits = 0
        #: Reads that waited for the lock the full proxy_cache_lock_timeout and then sent their own request.
        self.lock_timeouts = 0

    async def read(self) -> Reply:
        """The reply a fan reading the document now would get."""
        if not self._edge:
            return await self._request()
        wait_until = None
        timed_out = False
        while True:
            if self._reply is not None:
                if int(self._clock.time()) <= self._valid_sec:
                    self.edge_hits += 1
                    return self._reply
                if self._updating is not None:
                    self.edge_hits += 1
                    self.stale_hits += 1
                    return self._reply
                return await self._update()
            if self._updating is None or self._clock.monotonic() >= self._lock_until:
                return await self._update()
            if timed_out:
                self.lock_timeouts += 1
                return await self._request()
            wait_until = wait_until or self._clock.monotonic() + LOCK_TIMEOUT_S
            await self._clock.sleep(max(0.0, min(LOCK_CHECK_S, wait_until - self._clock.monotonic())))
            timed_out = self._clock.monotonic() >= wait_until

    async def _request(self, headers: dict[str, str] | None = None) -> Reply:
        return await self._api.call(self._endpoint, "GET", self._path, headers=headers, poll=True)

    async def _update(self) -> Reply:
        """Fetch the document for the cache (revalidating the stored one if any) as the one
        request that updates it; concurrent readers see ``_updating``."""
        mine = self._updating = object()
        self._lock_until = self._clock.monotonic() + LOCK_AGE_S
        try:
            stored = self._reply
            etag = stored.headers.get("ETag") if stored is not None else None
            reply = await self._request({"If-None-Match": etag} if etag else None)
            max_age = edge_max_age(reply.headers)
            if reply.status == 304 and stored is not None:
                if max_age:
                    self._valid_sec = int(self._clock.time()) + max_age
                return stored
            if reply.status == 200 and max_age:
                self._reply, self._valid_sec = reply, int(self._clock.time()) + max_age
            return reply
        finally:
            if self._updating is mine:
                self._updating = None
