"""A per-process, briefly cached view of each event's room: counters, waves, stock.

Fans poll status every two seconds; the room-wide part of the answer (how far admission has
got, the waves, whether anything is left to sell) is the same for all of them, so each web
process reads it at most every ``MAX_AGE_S`` per event, and concurrent misses share one read.
Only the fan's own position costs a Redis lookup per request.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from models.keys import Keys
from models.ttlcache import TTLCache
from models.waiting_room import eta
from models.waiting_room.store import RoomCounters, Stock, Wave

#: How stale the room-wide state may be, in seconds.
MAX_AGE_S = 0.5
#: Most events whose view one process keeps (the oldest read goes first). Only events that
#: exist reach the cache (the web tier checks the event first); the bound is a second guard.
MAX_EVENTS = 1024


@dataclass(frozen=True)
class RoomView:
    """One event's room-wide state at one moment. ``waves`` are oldest first."""

    counters: RoomCounters = RoomCounters()
    stock: Stock = Stock()
    waves: tuple[Wave, ...] = ()
    lasts: tuple[int, ...] = field(default=(), repr=False)
    #: Bumped when the room was found reset under us (a Redis flush) or rebuilt (a new generation,
    #: whose restore may give a lost join's position to a later join): cached positions are void.
    epoch: int = 0
    #: Values derived from this view, computed once (the pace for a wave size and interval).
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def last_wave(self) -> Wave | None:
        return self.waves[-1] if self.waves else None

    def wave_of(self, position: int) -> Wave | None:
        """The wave that admitted ``position``, or None if it is not admitted."""
        i = bisect_left(self.lasts, position)
        if i < len(self.waves) and self.waves[i].first <= position:
            return self.waves[i]
        return None

    def with_waves(self, counters: RoomCounters, stock: Stock, new: list[Wave], epoch: int | None = None) -> RoomView:
        waves = self.waves + tuple(new) if new else self.waves
        return RoomView(counters, stock, waves, tuple(w.last for w in waves) if new else self.lasts,
                        self.epoch if epoch is None else epoch)

    def pace(self, wave_size: int, interval_s: float) -> eta.Pace:
        key = (wave_size, interval_s)
        pace = self.memo.get(key)
        if pace is None:
            pace = self.memo[key] = eta.measure_pace(self.waves, wave_size, interval_s)
        return pace


async def load_view(redis: Any, keys: Keys, event_id: str, previous: RoomView | None = None) -> RoomView:
    """Read the room in one round trip, fetching only the waves ``previous`` lacks."""
    known = previous.lasts[-1] if previous is not None and previous.lasts else 0
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(keys.room(event_id))
    pipe.zrangebyscore(keys.room_waves(event_id), f"({known}", "+inf")
    pipe.hgetall(keys.stock(event_id))
    raw_room, members, raw_stock = await pipe.execute()
    counters, stock = RoomCounters.parse(raw_room), Stock.parse(raw_stock)
    if previous is None:
        return RoomView().with_waves(counters, stock, [Wave.parse(m) for m in members])
    rebuilt = previous.counters.live_since_ms not in (0, counters.live_since_ms)  # not its first opening
    if counters.up_to < known or counters.total < previous.counters.total or rebuilt:
        # The room was reset under us (a flush) or rebuilt, though joins since may have grown it
        # back past what this view saw: read every wave afresh, void cached positions.
        members = await redis.zrangebyscore(keys.room_waves(event_id), "-inf", "+inf")
        return RoomView().with_waves(counters, stock, [Wave.parse(m) for m in members], previous.epoch + 1)
    return previous.with_waves(counters, stock, [Wave.parse(m) for m in members])


class RoomCache:
    """``await cache.get(event_id)``: the event's RoomView, at most MAX_AGE_S old."""

    def __init__(self, redis: Any, keys: Keys, max_age_s: float = MAX_AGE_S, max_events: int = MAX_EVENTS) -> None:
        self._redis = redis
        self._keys = keys
        self._views: TTLCache[str, RoomView] = TTLCache(max_age_s, max_events)

    async def get(self, event_id: str) -> RoomView:
        async def load(previous: RoomView | None) -> RoomView:
            return await load_view(self._redis, self._keys, event_id, previous)

        return await self._views.get(event_id, load)  # type: ignore[return-value]  (load never gives None)

    def fresh(self, event_id: str) -> RoomView | None:
        """The event's view if it is fresh, else None: no coroutine, for a hot path's first try."""
        return self._views.fresh(event_id)

    def __len__(self) -> int:
        return len(self._views)

    def forget(self, event_id: str) -> None:
        """Read the room afresh on the next get (tests, and after this process changed it)."""
        self._views.expire(event_id)
