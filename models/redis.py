"""Redis clients and Lua scripts.

Scripts are real ``.lua`` files in ``models/lua/``, read once at import and registered once
per client (redis-py's Script objects use EVALSHA and fall back to EVAL after a restart).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

LUA_DIR = Path(__file__).resolve().parent / "lua"


@cache
def lua_source(name: str) -> str:
    """The text of ``models/lua/<name>.lua``."""
    return (LUA_DIR / f"{name}.lua").read_text()


class Scripts:
    """Lazily registered scripts for one client: ``Scripts(r).get("join")(keys=..., args=...)``."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._scripts: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self._client.register_script(lua_source(name))
        return script


_SCRIPTS_ATTR = "_ticketdrop_scripts"


def scripts(client: Any) -> Scripts:
    """The script registry attached to ``client`` (created on first use)."""
    reg = getattr(client, _SCRIPTS_ATTR, None)
    if reg is None:
        reg = Scripts(client)
        setattr(client, _SCRIPTS_ATTR, reg)
    return reg


def connect_sync(url: str, **kwargs: Any) -> redis.Redis:
    """A blocking client (workers, scheduler, CLI). Replies are decoded to str."""
    kwargs.setdefault("decode_responses", True)
    kwargs.setdefault("health_check_interval", 30)
    kwargs.setdefault("socket_timeout", 10)
    kwargs.setdefault("socket_connect_timeout", 5)
    return redis.Redis.from_url(url, **kwargs)


#: Longest wait for a free pooled connection in the web tier, in seconds.
POOL_WAIT_S = 5.0


def connect_async(url: str, **kwargs: Any) -> aioredis.Redis:
    """An asyncio client (web tier). Replies are decoded to str."""
    kwargs.setdefault("decode_responses", True)
    kwargs.setdefault("health_check_interval", 30)
    kwargs.setdefault("socket_timeout", 10)
    kwargs.setdefault("socket_connect_timeout", 5)
    max_connections = kwargs.pop("max_connections", 256)
    # A burst past the pool's size waits for a free connection (at most POOL_WAIT_S) instead of
    # failing at once with "Too many connections".
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=POOL_WAIT_S, **kwargs)
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool
