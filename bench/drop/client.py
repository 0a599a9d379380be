"""The fans' HTTP client: one shared session, retries like a patient browser, every request timed.

Latency is measured from the moment a request owns one of the ``limit`` connection slots, so
it is the server's time (plus loopback), not time spent queueing inside the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from array import array
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench.drop.clock import REAL_CLOCK, Clock
from bench.loadgen import Latencies

#: Statuses a browser retries after a pause (with Retry-After when given).
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: 500s are bugs, but a fan would retry a few times before giving up.
MAX_500_RETRIES = 3
#: Longest pause between retries, in seconds.
MAX_BACKOFF_S = 5.0


class DeadlineReached(RuntimeError):
    """The run's global deadline passed while a fan was still trying."""


@dataclass
class Reply:
    status: int
    data: Any
    headers: Any

    @property
    def code(self) -> str:
        """The problem code of an error reply ("" otherwise)."""
        return self.data.get("code", "") if isinstance(self.data, dict) else ""


@dataclass
class EndpointSamples:
    """Every request to one endpoint: start offset (s), latency (ms), status (0 = no answer)."""

    t: array = field(default_factory=lambda: array("d"))
    ms: array = field(default_factory=lambda: array("f"))
    status: array = field(default_factory=lambda: array("h"))


class Recorder:
    """Request samples per endpoint plus timestamped domain marks ("held", "paid"...), in
    seconds since ``t0`` on ``clock``: the one clock of the run, which its Api, fans and edge
    read too (bench.drop.clock)."""

    def __init__(self, t0: float, *, clock: Clock = REAL_CLOCK) -> None:
        self.t0 = t0
        self.clock = clock
        self.endpoints: dict[str, EndpointSamples] = {}
        self.marks: dict[str, array] = {}

    def request(self, endpoint: str, started: float, ms: float, status: int) -> None:
        samples = self.endpoints.get(endpoint)
        if samples is None:
            samples = self.endpoints[endpoint] = EndpointSamples()
        samples.t.append(started - self.t0)
        samples.ms.append(ms)
        samples.status.append(status)

    def mark(self, name: str, at: float | None = None) -> None:
        self.marks.setdefault(name, array("d")).append((at if at is not None else self.clock.monotonic()) - self.t0)

    def now(self) -> float:
        return self.clock.monotonic() - self.t0


class Api:
    """Requests against the system under test with retries, bounded by ``deadline`` (monotonic,
    on the recorder's clock, which the Api keeps time by: :attr:`clock`)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, recorder: Recorder, *, limit: int,
                 deadline: float, admin_token: str = "", poll_limit: int | None = None,
                 waitlist_limit: int | None = None) -> None:
        self.session = session
        self.base = base_url.rstrip("/")
        self.recorder = recorder
        self.clock = recorder.clock
        # Three pools of connection slots: status polls, reservation attempts, and paying (a fan
        # holding tickets: checkout session, confirm, its polls, tickets). Each browser has its
        # own connection, so a fan's checkout never waits behind other fans' polls or behind
        # other fans' reserves held open by Prefer: wait; with one shared queue the simulator
        # itself was the bottleneck (a loaded chaos drop queued checkouts 7.7 s at the median,
        # longer than its 8 s holds, and sold nothing).
        # ``limit`` is for commands, a quarter of it for paying; polls get ``poll_limit``
        # (default: half of ``limit``, split). Waitlisted fans' polls of their account page
        # (``/me/waitlist``) have a pool of their own (``waitlist_limit``, default: a quarter of
        # the polls'): in one pool with the waiting room's polls, 10,000 waitlisted fans polling
        # every 5 s made the waiting fans' status polls wait 17-22 s for a connection.
        if poll_limit is None:
            limit, poll_limit = max(1, limit // 2), max(1, limit - limit // 2)
        pay_limit = max(1, limit // 4)
        self.slots = asyncio.Semaphore(max(1, limit - pay_limit))
        self.pay_slots = asyncio.Semaphore(pay_limit)
        self.poll_slots = asyncio.Semaphore(poll_limit)
        self.waitlist_slots = asyncio.Semaphore(waitlist_limit if waitlist_limit is not None else max(1, poll_limit // 4))
        #: Time requests waited for a free slot, in ms (shows whether the simulator kept up), and
        #: when each wait began (seconds since the recorder's start), for the report's phases.
        kinds = ("poll", "waitlist", "command", "pay")
        self.slot_wait: dict[str, Latencies] = {kind: Latencies() for kind in kinds}
        self.slot_wait_t: dict[str, array] = {kind: array("d") for kind in kinds}
        self.deadline = deadline
        self.admin_headers = {"Authorization": f"Bearer {admin_token}"}
        self.retries = 0
        self._side: aiohttp.ClientSession | None = None

    def _side_session(self) -> aiohttp.ClientSession:
        if self._side is None:
            self._side = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4),
                                               timeout=aiohttp.ClientTimeout(total=10))
        return self._side

    async def close(self) -> None:
        """Close the side session (the caller owns the main one)."""
        if self._side is not None:
            await self._side.close()

    async def once(self, endpoint: str, method: str, path: str, *, user: str | None = None, body: Any = None,
                   headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
                   use_slot: bool = True, poll: bool = False, pay: bool = False, waitlist: bool = False) -> Reply:
        """One attempt. Raises aiohttp/OS errors as they come; records the sample either way.

        ``use_slot=False`` skips the fans' queue for a free connection (the operator's monitor
        must keep sampling however busy the fans are); it uses its own small session.
        ``poll=True`` takes a slot from the status-poll pool, ``pay=True`` from the paying pool,
        ``waitlist=True`` from the waitlist polls' pool.
        """
        hdrs = dict(headers or {})
        if user is not None:
            hdrs["X-User-Id"] = user
        data = None
        if body is not None:
            data = orjson.dumps(body)
            hdrs["Content-Type"] = "application/json"
        queued = self.clock.monotonic()
        kind = "poll" if poll else "pay" if pay else "waitlist" if waitlist else "command"
        pool = {"poll": self.poll_slots, "pay": self.pay_slots, "waitlist": self.waitlist_slots,
                "command": self.slots}[kind] if use_slot \
            else contextlib.nullcontext()
        async with pool:
            started = self.clock.monotonic()
            if use_slot:
                self.slot_wait[kind].add((started - queued) * 1000.0)
                self.slot_wait_t[kind].append(queued - self.recorder.t0)
            status = 0
            session = self.session if use_slot else self._side_session()
            try:
                async with session.request(method, self.base + path, data=data, headers=hdrs, params=params) as resp:
                    raw = await resp.read()
                    status = resp.status
                    parsed: Any = None
                    if raw and "json" in resp.headers.get("Content-Type", ""):
                        try:
                            parsed = orjson.loads(raw)
                        except orjson.JSONDecodeError:
                            parsed = raw.decode(errors="replace")
                    return Reply(status, parsed, resp.headers)
            finally:
                self.recorder.request(endpoint, started, (self.clock.monotonic() - started) * 1000.0, status)

    async def call(self, endpoint: str, method: str, path: str, **kwargs: Any) -> Reply:
        """:meth:`once` with retries on connection errors, 429/502/503/504 and (a few) 500s.

        Raises DeadlineReached when the run's deadline passes first. Returns the final Reply.
        """
        attempt = errors_500 = 0
        while True:
            if self.clock.monotonic() >= self.deadline:
                raise DeadlineReached(f"{method} {path}")
            attempt += 1
            pause = min(MAX_BACKOFF_S, 0.1 * 2 ** min(attempt, 6)) * random.uniform(0.5, 1.0)
            try:
                reply = await self.once(endpoint, method, path, **kwargs)
            except (TimeoutError, aiohttp.ClientError, OSError):
                self.retries += 1
                await self.clock.sleep(pause)
                continue
            if reply.status in RETRY_STATUSES or (reply.status == 500 and errors_500 < MAX_500_RETRIES):
                errors_500 += reply.status == 500
                self.retries += 1
                retry_after = reply.headers.get("Retry-After")
                if retry_after and retry_after.isdigit():
                    pause = min(float(retry_after), MAX_BACKOFF_S) * random.uniform(0.8, 1.2)
                await self.clock.sleep(pause)
                continue
            return reply

    async def admin(self, method: str, path: str, body: Any = None) -> Reply:
        """An operator's call (setup, opening the sale); retried like any other, but on its own
        connection rather than behind the fans' queue (an operator is not one of the crowd)."""
        return await self.call("admin", method, path, body=body, headers=self.admin_headers, use_slot=False)
