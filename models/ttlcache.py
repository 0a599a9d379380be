"""A small per-process cache bounded in size and in time, whose concurrent misses of one key
share a single load: the one cache helper behind the event snapshots (web/snapshots.py) and
the waiting-room views (models/waiting_room/room.py).

Why not cachetools: it is not a dependency here, its ``TTLCache`` has no shared in-flight
load for asyncio (the part both caches need, so a burst of polls makes one read), and an
expired entry is gone, while the room view is refreshed from the previous one. This is the
few lines both need, once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """``key -> value`` for at most ``ttl_s`` seconds each and ``max_size`` keys (the least
    recently stored goes first). An expired entry is a miss, but its value stays available to
    the next load as the previous one. Values are never None (None means "nothing")."""

    def __init__(self, ttl_s: float, max_size: int) -> None:
        self.ttl_s = ttl_s
        self.max_size = max_size
        #: key -> (deadline on the monotonic clock, value), in the order they were stored. An
        #: OrderedDict, not a dict: ``del d[next(iter(d))]`` on a full dict walks the deleted slots
        #: at its front, 50 µs per eviction at 200,000 entries against 1.5 for ``popitem``.
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._loading: dict[K, asyncio.Future] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def fresh(self, key: K, now: float | None = None) -> V | None:
        """The value if it is within its time, else None."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= (time.monotonic() if now is None else now):
            return None
        return entry[1]

    def previous(self, key: K) -> V | None:
        """The last value stored for ``key``, fresh or not."""
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def put(self, key: K, value: V, ttl_s: float | None = None) -> None:
        entries = self._entries
        entries.pop(key, None)  # re-inserted at the end: the most recent
        if len(entries) >= self.max_size:
            entries.popitem(last=False)
        entries[key] = (time.monotonic() + (self.ttl_s if ttl_s is None else ttl_s), value)

    def expire(self, key: K) -> None:
        """Make ``key`` a miss, keeping its value as the previous one."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (0.0, entry[1])

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def is_loading(self, key: K) -> bool:
        return key in self._loading

    async def load(self, key: K, loader: Callable[[V | None], Awaitable[V | None]]) -> V | None:
        """Run ``loader(previous value)`` and store what it returns (unless None); a load of
        ``key`` already running is awaited instead. The loader's exception reaches every waiter."""
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await loader(self.previous(key))
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # waiters re-raise it; nobody else needs to retrieve it
            raise
        finally:
            self._loading.pop(key, None)
        if value is not None:
            self.put(key, value)
        future.set_result(value)
        return value

    async def get(self, key: K, loader: Callable[[V | None], Awaitable[V | None]]) -> V | None:
        """The fresh value, or the one ``loader`` gives (see :meth:`load`)."""
        value = self.fresh(key)
        return value if value is not None else await self.load(key, loader)
