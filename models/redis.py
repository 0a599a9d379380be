"""Redis clients and Lua scripts.

Scripts are real ``.lua`` files in ``models/lua/``, read once at import and registered once
per client (redis-py's Script objects use EVALSHA and fall back to EVAL after a restart).

REDIS_URL names one server (``redis://``, ``rediss://``, ``unix://``) or a Redis Cluster:
``redis+cluster://host:port,host:port,...`` (``rediss+cluster://`` for TLS; optional
``user:password@`` before the first node). The nodes listed are only where the client starts:
it discovers the others and follows slot moves. Every script's keys lie in one slot
(models/keys.py), so the same code runs on both.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
import redis.cluster

from models.errors import ConfigError

#: REDIS_URL schemes naming a Redis Cluster.
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")

LUA_DIR = Path(__file__).resolve().parent / "lua"


#: A script line naming a library file to inline there: ``--#include lib_admission``.
_INCLUDE = "--#include "


@cache
def lua_source(name: str) -> str:
    """The text of ``models/lua/<name>.lua``, each ``--#include NAME`` line replaced by the text
    of ``models/lua/NAME.lua`` (Redis scripts cannot call each other; shared Lua functions live
    in ``lib_*.lua`` files)."""
    lines = (LUA_DIR / f"{name}.lua").read_text().splitlines(keepends=True)
    return "".join(lua_source(line[len(_INCLUDE):].strip()) if line.startswith(_INCLUDE) else line for line in lines)


class Scripts:
    """Lazily registered scripts for one client: ``Scripts(r).get("join")(keys=..., args=...)``."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._scripts: dict[str, Any] = {}
        self._eval = isinstance(client, (redis.cluster.ClusterPipeline, aiocluster.ClusterPipeline))

    def get(self, name: str) -> Any:
        script = self._scripts.get(name)
        if script is None:
            if self._eval:
                script = _EvalScript(self._client, lua_source(name))
            else:
                script = self._client.register_script(lua_source(name))
            self._scripts[name] = script
        return script


class _EvalScript:
    """A script queued in a Redis Cluster pipeline, which refuses EVALSHA: sent as EVAL (the
    server caches it by its SHA1 all the same), routed by its keys' slot like any command."""

    def __init__(self, pipe: Any, source: str) -> None:
        self._pipe = pipe
        self.script = source

    def __call__(self, keys: list | tuple = (), args: list | tuple = (), client: Any = None) -> Any:
        return (client or self._pipe).execute_command("EVAL", self.script, len(keys), *keys, *args)


_SCRIPTS_ATTR = "_ticketdrop_scripts"


def scripts(client: Any) -> Scripts:
    """The script registry attached to ``client`` (created on first use)."""
    reg = getattr(client, _SCRIPTS_ATTR, None)
    if reg is None:
        reg = Scripts(client)
        setattr(client, _SCRIPTS_ATTR, reg)
    return reg


def is_cluster_url(url: str) -> bool:
    """True when ``url`` names a Redis Cluster (``redis+cluster://`` or ``rediss+cluster://``)."""
    return url.split(":", 1)[0].lower() in CLUSTER_SCHEMES


def is_cluster(client: Any) -> bool:
    """True for a Redis Cluster client (sync or asyncio)."""
    return isinstance(client, (redis.cluster.RedisCluster, aiocluster.RedisCluster))


def cluster_options(url: str) -> dict[str, Any]:
    """RedisCluster keyword arguments from a ``redis+cluster://[user:password@]host:port,...`` URL.

    Raises ConfigError (naming REDIS_URL) when no node or a bad port is given.
    """
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    nodes = []
    for item in filter(None, hosts.split(",")):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"Setting REDIS_URL={url!r}: every cluster node must be host:port (got {item!r})")
        nodes.append((host.strip("[]"), int(port)))
    if not nodes:
        raise ConfigError(f"Setting REDIS_URL={url!r} names no cluster node (redis+cluster://host:port,host:port)")
    options: dict[str, Any] = {"nodes": nodes, "ssl": parts.scheme.lower() == "rediss+cluster"}
    if userinfo:
        user, _, password = userinfo.partition(":")
        options["username"], options["password"] = unquote(user) or None, unquote(password) or None
    return options


def _defaults(kwargs: dict[str, Any]) -> dict[str, Any]:
    kwargs.setdefault("decode_responses", True)
    kwargs.setdefault("health_check_interval", 30)
    kwargs.setdefault("socket_timeout", 10)
    kwargs.setdefault("socket_connect_timeout", 5)
    return kwargs


def connect_sync(url: str, **kwargs: Any) -> redis.Redis | redis.cluster.RedisCluster:
    """A blocking client (workers, scheduler, CLI). Replies are decoded to str."""
    _defaults(kwargs)
    if is_cluster_url(url):
        options = cluster_options(url)
        nodes = [redis.cluster.ClusterNode(host, port) for host, port in options.pop("nodes")]
        kwargs.pop("max_connections", None)
        return redis.cluster.RedisCluster(startup_nodes=nodes, **options, **kwargs)
    return redis.Redis.from_url(url, **kwargs)


#: Longest wait for a free pooled connection in the web tier, in seconds.
POOL_WAIT_S = 5.0


def connect_async(url: str, **kwargs: Any) -> aioredis.Redis | aiocluster.RedisCluster:
    """An asyncio client (web tier). Replies are decoded to str."""
    _defaults(kwargs)
    max_connections = kwargs.pop("max_connections", 256)
    if is_cluster_url(url):
        options = cluster_options(url)
        nodes = [aiocluster.ClusterNode(host, port) for host, port in options.pop("nodes")]
        # Per node; past it a command fails at once (redis-py's cluster has no blocking pool).
        return aiocluster.RedisCluster(startup_nodes=nodes, max_connections=max_connections, **options, **kwargs)
    # A burst past the pool's size waits for a free connection (at most POOL_WAIT_S) instead of
    # failing at once with "Too many connections".
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=POOL_WAIT_S, **kwargs)
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool


def delete_prefixed(client: Any, prefix: str) -> int:
    """Delete every key starting with ``prefix`` (SCAN + UNLINK, 500 at a time; one at a time on a
    cluster, where a multi-key UNLINK must stay in one slot). Returns how many were deleted."""
    pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix) + "*"
    batch_size = 1 if is_cluster(client) else 500
    removed, batch = 0, []
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= batch_size:
            removed += client.unlink(*batch)
            batch = []
    if batch:
        removed += client.unlink(*batch)
    return removed
