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

import threading
import weakref
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
import redis.cluster
from redis.commands.core import AsyncScript, Script

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
    return inline_includes((LUA_DIR / f"{name}.lua").read_text())


def inline_includes(text: str) -> str:
    """A script's ``text`` with each ``--#include NAME`` line replaced by :func:`lua_source` of NAME."""
    lines = text.splitlines(keepends=True)
    return "".join(lua_source(line[len(_INCLUDE):].strip()) if line.startswith(_INCLUDE) else line for line in lines)


class ScriptRegistry:
    """Our scripts, each made once per process and flavour (redis-py's ``Script`` for blocking
    clients, ``AsyncScript`` for asyncio ones) and run on whichever client is given:
    ``scripts(client).get("room_join")(keys=..., args=...)``. Nothing is attached to redis-py's
    objects, and no client is kept alive by the registry. A Redis Cluster pipeline, which
    refuses EVALSHA, gets the script as EVAL."""

    def __init__(self) -> None:
        self._blocking: dict[str, Script] = {}
        self._asyncio: dict[str, AsyncScript] = {}
        self._lock = threading.Lock()
        self._bound: weakref.WeakKeyDictionary[Any, BoundScripts] = weakref.WeakKeyDictionary()

    def __call__(self, client: Any) -> BoundScripts:
        """The scripts bound to ``client``, kept while the client lives (held weakly, so a
        pipeline made per request costs one lookup per script call, not new objects)."""
        bound = self._bound.get(client)
        if bound is None:
            bound = self._bound.setdefault(client, BoundScripts(self, client))
        return bound

    def script(self, name: str, client: Any) -> Any:
        """The script ``name`` for ``client``'s flavour (made on first use)."""
        made, cls = (self._asyncio, AsyncScript) if _kind(client) == "asyncio" else (self._blocking, Script)
        found = made.get(name)
        if found is None:
            with self._lock:
                source = lua_source(name)
                # From bytes, the SHA1 is computed without asking a client for its encoder.
                made_now = cls(None, source.encode())
                made_now.script = source
                found = made.setdefault(name, made_now)
        return found

    def __len__(self) -> int:
        """Clients (and pipelines) that have scripts bound now."""
        return len(self._bound)


class BoundScripts:
    """The registry's scripts bound to one client (or pipeline), which it refers to weakly."""

    __slots__ = ("_registry", "_client", "_scripts", "__weakref__")

    def __init__(self, registry: ScriptRegistry, client: Any) -> None:
        self._registry = registry
        self._client = weakref.ref(client)
        self._scripts: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        found = self._scripts.get(name)
        if found is None:
            client = self._client()
            if _kind(client) == "eval":
                return _EvalScript(client, lua_source(name))  # not kept: it holds its pipeline
            found = self._scripts[name] = _BoundScript(self._registry.script(name, client), self._client)
        return found


class _BoundScript:
    """One script and the client it runs on: call it, or read its ``sha`` and ``script``."""

    __slots__ = ("_script", "_client")

    def __init__(self, script: Any, client: weakref.ref) -> None:
        self._script = script
        self._client = client

    @property
    def sha(self) -> str:
        return self._script.sha

    @property
    def script(self) -> str:
        return self._script.script

    def __call__(self, keys: list | tuple = (), args: list | tuple = (), client: Any = None) -> Any:
        return self._script(keys=keys, args=args, client=client or self._client())


class _EvalScript:
    """A script queued in a Redis Cluster pipeline, which refuses EVALSHA: sent as EVAL (the
    server caches it by its SHA1 all the same), routed by its keys' slot like any command."""

    def __init__(self, pipe: Any, source: str) -> None:
        self._pipe = pipe
        self.script = source

    def __call__(self, keys: list | tuple = (), args: list | tuple = (), client: Any = None) -> Any:
        return (client or self._pipe).execute_command("EVAL", self.script, len(keys), *keys, *args)


_CLUSTER_PIPELINES = (redis.cluster.ClusterPipeline, aiocluster.ClusterPipeline)
_ASYNC_CLIENTS = (aioredis.Redis, aioredis.client.Pipeline, aiocluster.RedisCluster, aiocluster.ClusterPipeline)
#: client class -> "eval" | "asyncio" | "blocking", learnt once per class: redis-py's classes are
#: typing Protocols, whose isinstance() costs microseconds on every call.
_KINDS: dict[type, str] = {}


def _kind(client: Any) -> str:
    cls = type(client)
    kind = _KINDS.get(cls)
    if kind is None:
        kind = "eval" if issubclass(cls, _CLUSTER_PIPELINES) else "asyncio" if issubclass(cls, _ASYNC_CLIENTS) else "blocking"
        _KINDS[cls] = kind
    return kind

#: The one registry: ``scripts(client).get("room_join")(keys=..., args=...)``.
scripts = ScriptRegistry()


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
