"""System actors: the echo command that proves the broker path end to end. Declared on a broker
by ``workers.actors.declare_actors``."""

from __future__ import annotations

import time

from workers import runtime

#: How long an echo answer stays readable, in seconds.
ECHO_TTL_S = 60
#: Longest a run may take, in milliseconds.
TIME_LIMIT_MS = 10_000


def echo(nonce: str) -> None:
    """Write the nonce back and a worker heartbeat (read by /health)."""
    rt = runtime.get()
    pipe = rt.redis.pipeline(transaction=False)  # two keys in two cluster slots: no MULTI
    pipe.set(rt.keys.health_echo(nonce), "ok", ex=ECHO_TTL_S)
    pipe.set(rt.keys.worker_heartbeat(), str(time.time()), ex=ECHO_TTL_S * 10)
    pipe.execute()
