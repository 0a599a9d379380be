"""Redis-backed rate limits (GCRA in models/lua/ratelimit.lua) that fail open.

A limit of 0 disables its policy. When Redis cannot be reached the limiter lets the request
through (a rate limiter must not turn an outage into a 500 on every request), logs it at most
once per cooldown and counts it in ``ticketdrop_rate_limiter_fail_open_total``; for the
cooldown it does not even try Redis, and no check waits longer than CHECK_TIMEOUT_S, so
requests are not held up by connection timeouts and retries.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.exceptions

from models.keys import Keys
from models.metrics import RATE_LIMITED, RATE_LIMITER_FAIL_OPEN
from models.redis import scripts

log = logging.getLogger("ticketdrop.ratelimit")

#: ``run_script(script, keys, args)``: sends a registered script, answers its reply.
RunScript = Callable[[Any, list, list], Awaitable[Any]]

#: After a Redis failure, skip the limiter (fail open at once) for this long, in seconds.
FAIL_OPEN_COOLDOWN_S = 2.0
#: Longest a check may take before the request goes through unchecked, in seconds (the client's
#: own retries could otherwise hold a request for seconds while Redis is unreachable).
CHECK_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Policy:
    """``limit`` requests per ``window_s`` for one scope (``join``, ``reserve``, ``checkout``, ``ip``)."""

    name: str
    limit: int
    window_s: int = 60


@dataclass(frozen=True)
class PolicyState:
    policy: Policy
    remaining: int
    #: Seconds until the policy's quota is whole again.
    reset_s: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: Seconds until a refused request would be allowed (0 when allowed).
    retry_after_s: float
    states: tuple[PolicyState, ...]

    @property
    def refused_by(self) -> tuple[str, ...]:
        return tuple(s.policy.name for s in self.states if s.remaining == 0) if not self.allowed else ()


class RateLimiter:
    """Checks several (policy, subject) pairs in one Redis round trip; one instance per process."""

    def __init__(self, redis: Any, keys: Keys, *, cooldown_s: float = FAIL_OPEN_COOLDOWN_S,
                 timeout_s: float = CHECK_TIMEOUT_S, run_script: RunScript | None = None) -> None:
        self._redis = redis
        #: How the script is sent: the web tier passes its CommandBatcher's run_script, so the
        #: check of a join travels in the same pipeline as the join itself.
        self._run_script = run_script
        self._keys = keys
        self._cooldown_s = cooldown_s
        self._timeout_s = timeout_s
        self._skip_until = 0.0

    async def check(self, checks: Sequence[tuple[Policy, str]]) -> Decision | None:
        """Count one request against every policy (async Redis client).

        Returns the decision, or None when no policy applies or Redis is down (fail open).
        Raises nothing for Redis errors.
        """
        checks = [(p, s) for p, s in checks if p.limit > 0 and s]
        if not checks:
            return None
        if time.monotonic() < self._skip_until:
            RATE_LIMITER_FAIL_OPEN.inc()
            return None
        keys = [self._keys.rate(p.name, subject) for p, subject in checks]
        args: list[int] = []
        for p, _ in checks:
            args += [p.limit, p.window_s * 1000]
        try:
            script = scripts(self._redis).get("ratelimit")
            call = self._run_script(script, keys, args) if self._run_script else script(keys=keys, args=args)
            reply = await asyncio.wait_for(call, self._timeout_s)
        except (TimeoutError, redis.exceptions.RedisError, OSError) as exc:
            self._fail_open(exc)
            return None
        decision = _decode(reply, [p for p, _ in checks])
        if not decision.allowed:
            for name in decision.refused_by:
                RATE_LIMITED.labels(name).inc()
        return decision

    def _fail_open(self, exc: BaseException) -> None:
        RATE_LIMITER_FAIL_OPEN.inc()
        self._skip_until = time.monotonic() + self._cooldown_s
        log.warning("rate limiter failing open: Redis unavailable", extra={"error": f"{type(exc).__name__}: {exc}",
                                                                           "cooldown_s": self._cooldown_s})


def _decode(reply: list, policies: list[Policy]) -> Decision:
    allowed, retry_ms = int(reply[0]), int(reply[1])
    states = tuple(
        PolicyState(p, int(reply[2 + 2 * i]), math.ceil(int(reply[3 + 2 * i]) / 1000))
        for i, p in enumerate(policies)
    )
    return Decision(allowed == 1, retry_ms / 1000 if allowed != 1 else 0.0, states)
