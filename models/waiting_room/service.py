"""The waiting room as the web tier uses it: join, status, fairness documents (async Redis).

One RoomService per web process holds the per-process helpers: the room-state cache, the
lookup batcher and the set of events whose fairness commitment is known to exist.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Any, NamedTuple

from redis.exceptions import LockError

from models import metrics
from models.catalog.snapshot import EventSnapshot
from models.catalog.statuses import FINISHED_STATUSES
from models.errors import EventNotOnSale, NotFound, RoomRestoring, SoldOut, TicketDropError
from models.keys import Keys
from models.ratelimit import Decision, Policy, counted, decision_of, fields_of
from models.redis import scripts
from models.settings import Settings
from models.ttlcache import TTLCache
from models.waiting_room import fairness, restore, store, tokens
from models.waiting_room.batching import CommandBatcher
from models.waiting_room.lease import LEASE_TTL_MS
from models.waiting_room.room import RoomCache
from models.waiting_room.status import (
    Answer,
    answer,
    fairness_validator,
    on_sale_ms,
    progress_answer,
    room_state,
)

log = logging.getLogger("ticketdrop.waiting_room")

#: Most HMACs one page of the fairness list returns.
MAX_HMACS_PAGE = 10_000
#: Drawn positions remembered per event and web process (about 150 bytes each). A position
#: never changes once drawn, so a fan's repeat polls cost no Redis round trip at all.
POSITION_CACHE_SIZE = 200_000
#: Events whose drawn positions one process remembers (the least recently opened goes first).
POSITION_CACHE_EVENTS = 16

#: Seconds a revealed draw (GET .../fairness after on-sale) may be cached anywhere: it never
#: changes, and every pre-queue fan reads it once to compute its place (docs/internals/waiting-room.md).
REVEALED_MAX_AGE_S = 3600
#: Fairness documents one process keeps (a revealed one never changes: it is read once).
REVEALED_CACHE_EVENTS = 1024

#: Events whose JoinCall one process keeps (a few key names each).
JOIN_CALL_EVENTS = 1024

#: How long a first join waits for another process that is opening the room, in seconds.
OPEN_WAIT_S = 1.0

RunBlocking = Callable[..., Awaitable[Any]]


class JoinResult(NamedTuple):
    """What a join answers. (A named tuple: made on every join, where a frozen dataclass cost
    twice as much.)"""

    token: str
    created: bool
    #: None while in the pre-queue (the place is drawn at on-sale).
    position: int | None
    total: int
    state: str
    #: The room's generation as this process last saw it (``roomGeneration`` of status and progress).
    generation: int = 0
    #: The policies the join was counted against and the script's reply for them (None: no
    #: limit applied); :attr:`limits` and :attr:`rate_fields` read them when asked.
    limit_reply: tuple[Sequence[Policy], Sequence[Any]] | None = None

    @property
    def limits(self) -> Decision | None:
        """The rate-limit decision the join was counted by (None when no limit applied)."""
        return decision_of(*self.limit_reply) if self.limit_reply is not None else None

    @property
    def rate_fields(self) -> dict[str, str] | None:
        """The RateLimit header fields of the answer (None when no limit applied)."""
        return fields_of(*self.limit_reply) if self.limit_reply is not None else None

    def document(self, event: EventSnapshot) -> dict[str, Any]:
        return {"token": self.token, "position": self.position, "total": self.total, "state": self.state,
                "onSaleAt": event.on_sale_iso, "prequeue": self.position is None, "roomGeneration": self.generation}


def _now_ms() -> int:
    return int(time.time() * 1000)


class RoomService:
    """Per-process waiting-room service. ``run_blocking(fn, *args)`` runs database work off the loop."""

    def __init__(self, *, redis: Any, keys: Keys, settings: Settings, run_blocking: RunBlocking,
                 batcher: CommandBatcher | None = None) -> None:
        """``batcher``: the process's CommandBatcher, shared with the other hot-path services
        (None: one of its own, closed by :meth:`aclose`)."""
        self._redis = redis
        self._keys = keys
        self._settings = settings
        self._run_blocking = run_blocking
        self.rooms = RoomCache(redis, keys)
        #: Coalesces this process's hot-path Redis commands into pipelines.
        self._own_batcher = batcher is None
        self.batcher = CommandBatcher(redis) if batcher is None else batcher
        self._committed: set[str] = set()
        #: event id -> the database read deciding whether its room is new (see _open_new_room).
        self._opening: dict[str, asyncio.Future] = {}
        #: event id -> (room epoch, {token text -> position}); filled only with verified tokens.
        self._positions: dict[str, tuple[int, OrderedDict[str, int]]] = {}
        #: event id -> its fairness document's Answer: a revealed one for REVEALED_MAX_AGE_S (it
        #: never changes), one not revealed yet only for the burst of reads that shared its load.
        self._fairness: TTLCache[str, Answer] = TTLCache(REVEALED_MAX_AGE_S, REVEALED_CACHE_EVENTS)
        #: event id -> the static part of its joins' script call (store.JoinCall).
        self._join_calls: OrderedDict[str, store.JoinCall] = OrderedDict()
        self._room_join: Any = None

    async def join(self, event: Any, user_id: str | None, *, limits: Sequence[tuple[Policy, str]] = (),
                   now_ms: int | None = None) -> JoinResult:
        """Join (or rejoin) the event's queue, first counting the join against ``limits`` ((policy,
        subject) pairs; a limit of 0 or an empty subject does not apply) in the same script: their
        keys are the event's (Keys.event_rate), so these quotas count per event. A refused join
        changes nothing. With ``now_ms`` the limits count at that time too, else on Redis's clock.
        Raises EventNotOnSale (409) for closed or canceled events, SoldOut (409) when nothing is
        left to sell (both before anything is counted), RateLimited (429) when a limit is spent.
        Errors after the count carry the RateLimit fields. Returns the JoinResult."""
        event_id = str(event.id)
        if event.status in FINISHED_STATUSES:
            raise EventNotOnSale(f"The event is {event.status}: its waiting room is closed", reason=event.status)
        view = self.rooms.fresh(event_id)
        if view is None:
            view = await self.rooms.get(event_id)
        if view.stock.sold_out:
            raise SoldOut("Every ticket is sold and no holds are left to come back", reason="sold_out")
        if event_id not in self._committed:
            # The commitment must be public before anyone can be in the pre-queue.
            await self._run_blocking(fairness.ensure_commitment, event_id)
            self._committed.add(event_id)
        limits_at_ms = now_ms
        now_ms = _now_ms() if now_ms is None else now_ms
        token = tokens.issue(self._settings.secret_bytes, event_id, user_id)
        expire_at = self._expire_at(event, now_ms)
        limits = counted(limits)
        call = self._join_call(event_id)
        reply = await self._send_join(call, token, now_ms, on_sale_ms(event), expire_at, limits, limits_at_ms)
        limited = None
        if limits:
            limited = ([p for p, _ in limits], reply[4:])
            if int(reply[4]) != 1:
                raise decision_of(*limited).refusal()
        if int(reply[0]) < 0:  # the room is not live: the cold path
            reply = await self._join_opening(event, call, token, now_ms, expire_at, limited)
        created, position, pre, seq = reply[:4]
        created, position = bool(int(created)), int(position)
        generation = view.counters.live_since_ms
        if not generation:
            # The view was read before the room went live (its first joins, in every web process,
            # for up to the view's lifetime): answer the generation the progress shows, or each of
            # these fans reads its status at once to find out whether the room was rebuilt.
            self.rooms.forget(event_id)
            generation = (await self.rooms.get(event_id)).counters.live_since_ms
        metrics.JOIN_TALLY.add("new" if created else "rejoin")
        if log.isEnabledFor(logging.DEBUG):
            # DEBUG, not INFO: a line per join cost a join 25 us of 360 (a formatted line and a write
            # per request) and says nothing the room's journal does not keep (who got which place).
            log.debug("join", extra={"event_id": event_id, "user_id": user_id, "position": position or None,
                                    "outcome": "new" if created else "rejoin"})
        return JoinResult(token.text, created, position or None, int(pre) + int(seq), room_state(event, view, now_ms),
                          generation, limited)

    async def _join_opening(self, event: Any, call: store.JoinCall, token: tokens.Token, now_ms: int, expire_at: int,
                            limited: tuple[list[Policy], list] | None) -> list:
        """The cold path of a join whose script found the room not live: open the room if it is
        new, then send the join a second time, without the limits (the first call counted them).
        Only the first joins of a room (and joins while it is restored) come here. Returns the
        second call's reply. Raises RoomRestoring while the room is being restored; the error
        carries the RateLimit fields of ``limited`` (policies, reply), the first call's count."""
        try:
            await self._open_new_room(event, now_ms)
            reply = await self._send_join(call, token, now_ms, on_sale_ms(event), expire_at)
            if int(reply[0]) < 0:
                raise RoomRestoring()
        except TicketDropError as exc:
            if limited is not None:
                exc.headers.update(fields_of(*limited))
            raise
        return reply

    def _send_join(self, call: store.JoinCall, token: tokens.Token, *params: Any) -> asyncio.Future:
        """Send room_join.lua for ``token`` (``params``: the rest of JoinCall's), packed by the
        JoinCall when the batcher's connection takes packed commands."""
        script = self._join_script()
        if self.batcher.packs:
            return self.batcher.run_packed(script, call.packed(script.sha, token, *params))
        keys, args = call(token, *params)
        return self.batcher.run_script(script, keys, args)

    def _join_call(self, event_id: str) -> store.JoinCall:
        """The event's JoinCall (key names never change: kept for good, the oldest event dropped
        past JOIN_CALL_EVENTS)."""
        call = self._join_calls.get(event_id)
        if call is None:
            if len(self._join_calls) >= JOIN_CALL_EVENTS:
                self._join_calls.popitem(last=False)
            call = self._join_calls[event_id] = store.JoinCall(self._keys, event_id)
        return call

    def _join_script(self) -> Any:
        script = self._room_join
        if script is None:
            script = self._room_join = scripts(self._redis).get("room_join")
        return script

    async def _open_new_room(self, event: Any, now_ms: int) -> None:
        """Mark a room live that the database knows nothing of (its first join). Raises
        RoomRestoring if the database knows places of it (the wave tick restores it) or if the
        tick holds the room's lease right now. Concurrent first joins share one attempt."""
        event_id = str(event.id)
        pending = self._opening.get(event_id)
        if pending is None:
            pending = self._opening[event_id] = asyncio.ensure_future(
                self._mark_live_if_new(event_id, now_ms, self._expire_at(event, now_ms)))
            pending.add_done_callback(lambda _: self._opening.pop(event_id, None))
        if not await asyncio.shield(pending):
            raise RoomRestoring()

    def _expire_at(self, event: Any, now_ms: int) -> int:
        """When the event's room keys expire, in ms."""
        starts_at_ms = getattr(event, "starts_at_ms", None)  # EventSnapshot computes it once; a bare row has none
        if not isinstance(starts_at_ms, int):
            starts_at_ms = int(event.starts_at.timestamp() * 1000)
        return store.expire_at_ms(starts_at_ms, on_sale_ms(event), now_ms, self._settings.token_ttl_s)

    async def _mark_live_if_new(self, event_id: str, now_ms: int, expire_at_ms: int) -> bool:
        # `live` is set under the room's lease, like every other change to the room's shape: the
        # tick cannot copy, restore or draw meanwhile, so "the database knows no place" (asked
        # again under the lease) stays true until `live` is set.
        if not await self._run_blocking(restore.room_is_new, event_id):
            return False  # places exist: only the tick brings the room back (never compete for its lease)
        lease = self._redis.lock(self._keys.room_lease(event_id), timeout=LEASE_TTL_MS / 1000, thread_local=False)
        room = self._keys.room(event_id)
        deadline = time.monotonic() + OPEN_WAIT_S
        while not await lease.acquire(blocking=False):
            # Another process is opening it (a moment) or the tick is restoring it (longer).
            if await self._redis.hexists(room, "live"):
                self.rooms.forget(event_id)
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        try:
            if not await self._redis.hexists(room, "live"):
                if not await self._run_blocking(restore.room_is_new, event_id):  # again, under the lease
                    return False
                await self._redis.hset(room, "live", now_ms)
                await self._redis.pexpireat(room, expire_at_ms)
        finally:
            with suppress(LockError):  # expired and taken meanwhile: nothing of ours to release
                await lease.release()
        self.rooms.forget(event_id)
        return True

    async def status(self, event: Any, token_text: str | None, *, now_ms: int | None = None) -> dict[str, Any]:
        """The status document of ``token_text``. Raises NotFound (404, field query.token) for a
        malformed token, another event's token or a token the queue does not know, and
        Unavailable (503) while the room is being restored after a Redis loss."""
        return (await self.status_answer(event, token_text, now_ms=now_ms)).document

    async def status_answer(self, event: Any, token_text: str | None, *, now_ms: int | None = None) -> Answer:
        """:meth:`status` with its weak ETag and freshness (see models.waiting_room.status)."""
        event_id = str(event.id)
        view = self.rooms.fresh(event_id)  # nearly every poll: no coroutine
        if view is None:
            view = await self.rooms.get(event_id)
        if not view.counters.live and event.status not in FINISHED_STATUSES:
            # A valid token of a room that is not live: lost with Redis and not restored yet
            # (RoomRestoring: a 404 would send its fan to the back of the queue), or new.
            if tokens.parse(self._settings.secret_bytes, event_id, token_text) is None:
                raise NotFound("No such waiting-room token for this event", field="token")
            await self._open_new_room(event, _now_ms())  # nobody joined yet: open it, then 404
            view = await self.rooms.get(event_id)
        known = self._positions.get(event_id)
        if known is None or known[0] != view.epoch:
            if known is None and len(self._positions) >= POSITION_CACHE_EVENTS:
                del self._positions[next(iter(self._positions))]
            known = self._positions[event_id] = (view.epoch, OrderedDict())  # FIFO: see models/ttlcache.py
        cache = known[1]
        position = cache.get(token_text) if token_text else None
        if position is None:
            token = tokens.parse(self._settings.secret_bytes, event_id, token_text)
            if token is None:
                raise NotFound("No such waiting-room token for this event", field="token")
            value = await self.batcher.hget(store.bucket_key(self._keys, event_id, token), token.field)
            if value is None:
                if await self.batcher.hget(self._keys.room(event_id), "live") is None:
                    raise RoomRestoring()  # lost with Redis since the cached view was read
                raise NotFound("No such waiting-room token for this event", field="token")
            position = int(value)
            if position > 0:  # 0 = not drawn yet: it will change
                if len(cache) >= POSITION_CACHE_SIZE:
                    cache.popitem(last=False)  # the oldest entry: polls come back every few seconds
                cache[token.text] = position
        return answer(event, view, position, _now_ms() if now_ms is None else now_ms, self._settings.admission_ttl_s)

    async def progress(self, event: Any, *, now_ms: int | None = None) -> Answer:
        """The room-wide progress document every fan of the event may poll (one edge cache entry)."""
        view = await self.rooms.get(str(event.id))
        return progress_answer(event, view, _now_ms() if now_ms is None else now_ms)

    def known_progress(self, event: Any) -> Answer | None:
        """:meth:`progress` when the room view is fresh in this process, else None (no coroutine)."""
        view = self.rooms.fresh(str(event.id))
        return None if view is None else progress_answer(event, view, _now_ms())

    async def aclose(self) -> None:
        """Close the batcher's connection if it is this service's own (app shutdown)."""
        if self._own_batcher:
            await self.batcher.aclose()

    async def fairness(self, event_id: str) -> dict[str, Any]:
        """The commitment, and after the draw the salt and pre-queue size."""
        return (await self.fairness_answer(event_id)).document

    async def fairness_answer(self, event_id: str) -> Answer:
        """:meth:`fairness` with its ETag and freshness: once revealed the document never changes
        (every pre-queue fan reads it once after the draw, so this process keeps it and any cache
        may for ``REVEALED_MAX_AGE_S``); before that, a cache revalidates it every time."""
        event_id = str(event_id)

        async def load(_previous: Answer | None) -> Answer:
            document = await self._run_blocking(fairness.public_document, event_id)
            return Answer(document, fairness_validator(document), 0 if document["salt"] is None else REVEALED_MAX_AGE_S)

        answer = await self._fairness.get(event_id, load)
        if answer.max_age_s == 0:
            self._fairness.expire(event_id)  # not revealed yet: the next read asks the database again
        return answer

    async def hmacs(self, event_id: str, offset: int, limit: int) -> dict[str, Any]:
        """One page of the drawn pre-queue's HMACs (hex), in queue order: position = index + 1."""
        key = self._keys.room_hmacs(str(event_id))
        size = fairness.HMAC_BYTES
        total = int(await self._redis.strlen(key)) // size
        raw = b""
        if limit > 0 and offset < total:
            raw = await self._redis.execute_command("GETRANGE", key, offset * size, (offset + limit) * size - 1,
                                                    NEVER_DECODE=True)
        return {"offset": offset, "limit": limit, "total": total,
                "hmacs": [raw[i:i + size].hex() for i in range(0, len(raw), size)]}
