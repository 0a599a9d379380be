"""The web process's Redis command batcher, for hot-path calls outside the waiting room.

The waiting room's CommandBatcher (models/waiting_room/batching.py) sends the commands of
concurrent requests as one pipeline over a lean hiredis connection: a few microseconds per
command instead of redis-py's pool checkout, packing and parsing (a script call through
redis-py was about 8% of the web process's samples per call site under bench-purchase).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from models.ratelimit import RunScript
from web.appkeys import SERVICES


def script_runner(app: web.Application) -> RunScript | None:
    """``run_script(script, keys, args)`` through the process's batcher; None before the
    waiting room service is up (then callers send scripts with redis-py)."""
    room = app[SERVICES].get("waiting_room")
    return room.batcher.run_script if room is not None else None


def command_runner(app: web.Application) -> Callable[..., Awaitable[Any]] | None:
    """``command(*args)`` (any Redis command, raw reply) through the process's batcher; None
    before the waiting room service is up."""
    room = app[SERVICES].get("waiting_room")
    return room.batcher.command if room is not None else None
