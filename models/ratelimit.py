"""Redis-backed rate limits (GCRA in models/lua/lib_gcra.lua) that fail open.

Two ways in: :class:`RateLimiter` counts a request in a call of its own (ratelimit.lua: reserve,
checkout); a join is counted by the join's own script (room_join.lua, in the event's slot, see
models.waiting_room.service), which reads and builds its part with :func:`counted`,
:func:`gcra_args` and :func:`decision_of`. Either way a refusal is :meth:`Decision.refusal`.

A limit of 0 disables its policy. When Redis cannot be reached the limiter lets the request
through (a rate limiter must not turn an outage into a 500 on every request), logs it at most
once per cooldown and counts it in ``ticketdrop_rate_limiter_fail_open_total``; for the
cooldown it does not even try Redis, and no check waits longer than its timeout
(RATE_CHECK_TIMEOUT_S), so requests are not held up by connection timeouts and retries.

The time limit is one timer for every check in flight (:class:`Deadlines`), not
``asyncio.wait_for`` per check: that made a task and a timer for every limited request, and
with ``gather`` over the hash slots it was about a fifth of a join's CPU under load.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import redis.exceptions

from models.errors import RateLimited
from models.keys import Keys, key_slot
from models.metrics import RATE_LIMITED, RATE_LIMITER_FAIL_OPEN
from models.redis import scripts

log = logging.getLogger("ticketdrop.ratelimit")

#: ``run_script(script, keys, args)``: sends a registered script, answers its reply.
RunScript = Callable[[Any, list, list], Awaitable[Any]]

#: After a Redis failure, skip the limiter (fail open at once) for this long, in seconds.
FAIL_OPEN_COOLDOWN_S = 2.0


@dataclass(frozen=True)
class Policy:
    """``limit`` requests per ``window_s`` for one scope (``join``, ``reserve``, ``checkout``, ``ip``)."""

    name: str
    limit: int
    window_s: int = 60
    #: Its arguments to lib_gcra.lua: (limit, window in ms), made once.
    gcra: tuple[int, int] = field(init=False, repr=False, compare=False)
    #: The policy as a ``RateLimit-Policy`` list member (``"join";q=10;w=60``), written once.
    field: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field", f'"{self.name}";q={self.limit};w={self.window_s}')
        object.__setattr__(self, "gcra", (self.limit, self.window_s * 1000))


class PolicyState(NamedTuple):
    policy: Policy
    remaining: int
    #: Seconds until the policy's quota is whole again.
    reset_s: int


class Decision(NamedTuple):
    allowed: bool
    #: Seconds until a refused request would be allowed (0 when allowed).
    retry_after_s: float
    states: tuple[PolicyState, ...]

    @property
    def refused_by(self) -> tuple[str, ...]:
        return tuple(s.policy.name for s in self.states if s.remaining == 0) if not self.allowed else ()

    def fields(self) -> dict[str, str]:
        """``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers) for every
        policy the request was counted against."""
        return _header_fields(self.states)

    def refusal(self) -> RateLimited:
        """The 429 for a refused request: Retry-After, the RateLimit fields, the refusing policies."""
        names = self.refused_by
        return RateLimited(f"Too many requests ({', '.join(names)} limit); retry later", retry_after=self.retry_after_s,
                           headers=self.fields(), limits=list(names))


def counted(checks: Sequence[tuple[Policy, str]]) -> list[tuple[Policy, str]]:
    """The (policy, subject) pairs a request is counted against: a limit above 0 and a subject."""
    return [(p, s) for p, s in checks if p.limit > 0 and s]


def gcra_args(policies: Sequence[Policy]) -> list[int]:
    """Each policy's limit and window in ms, in order: lib_gcra.lua's arguments."""
    args: list[int] = []
    for policy in policies:
        args += policy.gcra
    return args


def decision_of(policies: Sequence[Policy], reply: Sequence[Any]) -> Decision:
    """The decision in a script's {allowed, retry after ms, remaining, reset ms, ...} reply for
    ``policies`` (all counted in that one call); a refusal is counted in RATE_LIMITED."""
    states = [PolicyState(*state) for state in _states(policies, reply)]
    if int(reply[0]) == 1:
        return Decision(True, 0.0, tuple(states))
    decision = Decision(False, int(reply[1]) / 1000, tuple(states))
    _count_refusal(decision)
    return decision


def fields_of(policies: Sequence[Policy], reply: Sequence[Any]) -> dict[str, str]:
    """``decision_of(policies, reply).fields()`` without the decision: an allowed join needs only
    its header fields, written straight from the reply."""
    return _header_fields(_states(policies, reply))


def _states(policies: Sequence[Policy], reply: Sequence[Any]) -> list[tuple[Policy, int, int]]:
    """(policy, remaining, reset seconds) of each policy in a script's reply (pairs from reply[2]
    on). Made on every join: a plain loop of plain tuples (a PolicyState each doubled an allowed
    join's header fields, 0.9 -> 1.6 us), reset seconds rounded up in integers (ceil(ms / 1000))."""
    states, n = [], 2
    for policy in policies:
        states.append((policy, int(reply[n]), -(-int(reply[n + 1]) // 1000)))
        n += 2
    return states


def _header_fields(states: Sequence[tuple[Policy, int, int]]) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` for ``states``; every limited answer writes these:
    one loop for both."""
    names, values = [], []
    for policy, remaining, reset_s in states:
        names.append(policy.field)
        values.append(f'"{policy.name}";r={remaining};t={reset_s}')
    return {"RateLimit-Policy": ", ".join(names), "RateLimit": ", ".join(values)}


def _count_refusal(decision: Decision) -> None:
    if decision.allowed:  # nearly every decision
        return
    for name in decision.refused_by:
        RATE_LIMITED.labels(name).inc()


class Deadlines:
    """Fails the futures still pending ``timeout_s`` after they were watched, with one timer for
    all of them (the earliest deadline's; futures are watched in deadline order)."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._watched: deque[tuple[float, asyncio.Future]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, future: asyncio.Future) -> asyncio.Future:
        """``future``, failed with TimeoutError unless it is done within the time limit."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests): what the old one watched is gone
            self._loop, self._watched, self._timer = loop, deque(), None
        deadline = loop.time() + self._timeout_s
        self._watched.append((deadline, future))
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._expire)
        return future

    def _expire(self) -> None:
        self._timer = None
        loop, watched = self._loop, self._watched
        now = loop.time()  # type: ignore[union-attr]
        while watched:
            deadline, future = watched[0]
            if not future.done():
                if deadline > now:
                    self._timer = loop.call_at(deadline, self._expire)  # type: ignore[union-attr]
                    return
                future.set_exception(TimeoutError(f"no answer within {self._timeout_s} s"))
            watched.popleft()


class RateLimiter:
    """Checks several (policy, subject) pairs in one Redis round trip; one instance per process.

    Each pair's key has its own hash slot (Redis Cluster runs a script only on keys of one slot),
    so the check sends one script per slot, pipelined together; a request refused by one policy
    is refunded to the others (ratelimit.lua's refund mode), so it still costs no policy anything.
    """

    def __init__(self, redis: Any, keys: Keys, *, timeout_s: float, cooldown_s: float = FAIL_OPEN_COOLDOWN_S,
                 run_script: RunScript | None = None, clock_ms: Callable[[], int] | None = None) -> None:
        """``timeout_s``: the longest a check may take before the request goes through unchecked
        (settings.rate_check_timeout_s; the client's own retries could otherwise hold a request
        for seconds while Redis is unreachable). ``clock_ms``: the time checks count at, in
        milliseconds (tests); None, Redis's own clock."""
        self._redis = redis
        self._clock_ms = clock_ms
        #: How the script is sent: the web tier passes its CommandBatcher's run_script, so a
        #: check travels in the same pipeline as the process's other hot-path commands.
        self._run_script = run_script
        self._keys = keys
        self._cooldown_s = cooldown_s
        self._deadlines = Deadlines(timeout_s)
        self._skip_until = 0.0

    async def check(self, checks: Sequence[tuple[Policy, str]]) -> Decision | None:
        """Count one request against every policy (async Redis client).

        Returns the decision, or None when no policy applies or Redis is down (fail open).
        Raises nothing for Redis errors.
        """
        checks = counted(checks)
        if not checks:
            return None
        if time.monotonic() < self._skip_until:
            RATE_LIMITER_FAIL_OPEN.inc()
            return None
        policies = [p for p, _ in checks]
        keys = [self._keys.rate(p.name, subject) for p, subject in checks]
        try:
            allowed, retry_ms, states = await self._count(policies, keys)
        except (TimeoutError, redis.exceptions.RedisError, OSError) as exc:
            self._fail_open(exc)
            return None
        decision = Decision(allowed, retry_ms / 1000 if not allowed else 0.0, tuple(states))
        _count_refusal(decision)
        return decision

    async def _count(self, policies: list[Policy], keys: list[str]) -> tuple[bool, int, list[PolicyState]]:
        """Run ratelimit.lua once per hash slot (together: one round trip through a pipeline),
        then refund the slots that counted a request another slot refused.
        Returns (allowed, retry after in ms, the policies' states in the order given)."""
        slots: dict[int, list[int]] = {}
        for i, key in enumerate(keys):
            slots.setdefault(key_slot(key), []).append(i)
        groups = list(slots.values())
        replies = await asyncio.gather(*(self._send(policies, keys, g) for g in groups))
        allowed = all(int(r[0]) == 1 for r in replies)
        states: list[PolicyState | None] = [None] * len(keys)
        for group, reply in zip(groups, replies, strict=True):
            _place(states, group, policies, reply[2:])
        if not allowed:
            counted = [g for g, r in zip(groups, replies, strict=True) if int(r[0]) == 1]
            refunds = await asyncio.gather(*(self._send(policies, keys, g, refund=True) for g in counted),
                                           return_exceptions=True)
            for group, reply in zip(counted, refunds, strict=True):
                if isinstance(reply, BaseException):  # the refusal stands; that policy counted one extra
                    log.warning("rate limit refund failed", extra={"error": f"{type(reply).__name__}: {reply}"})
                else:
                    _place(states, group, policies, reply[2:])
        return allowed, max(int(r[1]) for r in replies), states  # type: ignore[return-value]

    def _send(self, policies: list[Policy], keys: list[str], members: Sequence[int], *,
              refund: bool = False) -> asyncio.Future:
        """The script's reply for ``members``, failed with TimeoutError past the time limit."""
        script = scripts(self._redis).get("ratelimit")
        group_keys = [keys[i] for i in members]
        args: list[int | str] = [*gcra_args([policies[i] for i in members])]
        if refund:
            args.append("refund")
        if self._clock_ms is not None:
            args.append(f"at:{self._clock_ms()}")
        if self._run_script is not None:
            return self._deadlines.watch(self._run_script(script, group_keys, args))
        return self._deadlines.watch(_future_of(script(keys=group_keys, args=args)))

    def _fail_open(self, exc: BaseException) -> None:
        RATE_LIMITER_FAIL_OPEN.inc()
        self._skip_until = time.monotonic() + self._cooldown_s
        log.warning("rate limiter failing open: Redis unavailable", extra={"error": f"{type(exc).__name__}: {exc}",
                                                                           "cooldown_s": self._cooldown_s})


def _future_of(call: Awaitable[Any]) -> asyncio.Future:
    """A future of ``call``'s outcome that may be failed from outside (a deadline): the call is
    then cancelled, and it is cancelled too when whoever awaits the future is."""
    loop = asyncio.get_running_loop()
    outer = loop.create_future()
    task = asyncio.ensure_future(call)

    def settle(done: asyncio.Future) -> None:
        if outer.done():
            return
        if done.cancelled():
            outer.cancel()
        elif done.exception() is not None:
            outer.set_exception(done.exception())  # type: ignore[arg-type]
        else:
            outer.set_result(done.result())

    task.add_done_callback(settle)
    outer.add_done_callback(lambda _: task.cancel())
    return outer


def _place(states: list, members: Sequence[int], policies: list[Policy], pairs: list) -> None:
    """Store a script's (remaining, reset in ms) pairs as the states of policies ``members``."""
    for n, i in enumerate(members):
        states[i] = PolicyState(policies[i], int(pairs[2 * n]), math.ceil(int(pairs[2 * n + 1]) / 1000))
