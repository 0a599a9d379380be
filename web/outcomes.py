"""One pub/sub listener per web process, resolving waiters for ``Prefer: wait`` requests.

Register interest *before* enqueueing the command (``async with hub.waiter(id) as w``) so an
outcome published right after cannot be missed; on timeout the caller reads the stored state.
The app factory builds the process's hub (web.appkeys.OUTCOMES); its listener starts with the
first waiter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson

from models.redis import is_cluster

log = logging.getLogger("ticketdrop.web.outcomes")


class OutcomeHub:
    def __init__(self, redis: Any, channel: str) -> None:
        self._redis = redis
        self._channel = channel
        #: A sharded channel on a Redis Cluster (models/outcomes.py publishes with SPUBLISH there).
        self._sharded = is_cluster(redis)
        self._waiters: dict[str, set[asyncio.Future]] = {}
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self._closing = False

    async def ensure_started(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="outcome-hub")
        if not self._ready.is_set():  # the steady state costs no timer and no task per request
            await asyncio.wait_for(self._ready.wait(), timeout=5)

    async def _listen(self) -> None:
        while True:
            if self._sharded:  # the cluster client learns its slot map on first use: a pubsub needs it first
                await self._redis.initialize()
            pubsub = self._redis.pubsub()
            try:
                await (pubsub.ssubscribe if self._sharded else pubsub.subscribe)(self._channel)
                while True:
                    # redis-py may turn a cancel that lands inside get_message into a timeout:
                    # check on every pass, or close() would wait forever.
                    if self._closing or _cancelling():
                        raise asyncio.CancelledError()
                    msg = await (pubsub.get_sharded_message if self._sharded else pubsub.get_message)(
                        ignore_subscribe_messages=False, timeout=1.0)
                    if msg is None:
                        continue
                    if msg["type"] in ("subscribe", "ssubscribe"):
                        self._ready.set()
                    elif msg["type"] in ("message", "smessage"):
                        self._dispatch(msg["data"])
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect; waiters fall back to polling
                # On a real Redis, cancelling a blocked read surfaces as ConnectionError
                # ("Connection closed by server"): that is our shutdown, not an outage.
                if self._closing or _cancelling():
                    raise asyncio.CancelledError() from exc
                self._ready.clear()
                log.warning("outcome listener reconnecting: %s", exc)
                await asyncio.sleep(0.5)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: BLE001
                    pass

    def _dispatch(self, data: Any) -> None:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        for fut in self._waiters.pop(str(payload.get("id")), ()):
            if not fut.done():
                fut.set_result(payload)

    @asynccontextmanager
    async def waiter(self, subject_id: str) -> AsyncIterator[Waiter]:
        """Register for ``subject_id``'s outcome for the duration of the block."""
        await self.ensure_started()
        fut = self.register(subject_id)
        try:
            yield Waiter(fut)
        finally:
            self.unregister(subject_id, fut)

    def register(self, subject_id: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(subject_id, set()).add(fut)
        return fut

    def unregister(self, subject_id: str, fut: asyncio.Future) -> None:
        waiters = self._waiters.get(subject_id)
        if waiters is not None:
            waiters.discard(fut)
            if not waiters:
                self._waiters.pop(subject_id, None)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class Waiter:
    def __init__(self, fut: asyncio.Future) -> None:
        self._fut = fut

    async def wait(self, timeout_s: float) -> dict | None:
        """The published outcome, or None after ``timeout_s``."""
        # One timer that answers None, rather than wait_for over a shield (a task, two futures).
        timer = asyncio.get_running_loop().call_later(timeout_s, _answer_none, self._fut)
        try:
            return await self._fut
        finally:
            timer.cancel()


def _answer_none(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
