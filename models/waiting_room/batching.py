"""Coalesce the Redis commands of concurrent requests into pipelines.

Under load many status polls and joins are handled in the same event-loop turn; sending their
commands as pipelines (up to ``MAX_BATCH`` each) costs one round trip, one socket write and one
pooled connection per pipeline instead of one per command. That keeps the status endpoint close
to a handler that does not touch Redis at all, and a burst of thousands of joins cannot exhaust
the connection pool.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import NoScriptError

from models.waiting_room.wire import PipelinedConnection

#: Most commands sent in one pipeline. A batch is written as soon as it holds this many, not at
#: the end of the loop turn, so Redis works on it while this process goes on with the turn's
#: other requests. With every connection's request in one batch (wrk's 64 joins, or a burst of
#: fans), the process and Redis took turns waiting for each other: the process then idled for
#: Redis's whole batch, a fifth of the time under wrk (docs/benchmarks.md, "Batches of 16").
#: Smaller batches cost a socket write per few commands for little more overlap.
MAX_BATCH = 16

_Pending = tuple[tuple[Any, ...] | bytes, asyncio.Future, Any]


class CommandBatcher:
    """``await batcher.hget(key, field)`` / ``await batcher.run_script(script, keys, args)``:
    the same answers as the client's own calls, sent together with the others pending."""

    def __init__(self, redis: Any, max_batch: int = MAX_BATCH, *, wire: bool = True) -> None:
        self._redis = redis
        #: The lean pipelined connection when the client allows one, else redis-py pipelines.
        self._wire = PipelinedConnection.for_client(redis) if wire else None
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task] = set()

    def hget(self, key: str, field: str) -> asyncio.Future[Any]:
        return self._add(("HGET", key, field), None)

    def command(self, *args: Any) -> asyncio.Future[Any]:
        """Any other command, as ``execute_command`` takes it (``"SET", key, value, "NX"``): the raw reply."""
        return self._add(args, None)

    def run_script(self, script: Any, keys: list, args: list) -> asyncio.Future[Any]:
        """Run a registered script (redis-py Script: its ``sha`` and ``script``) by EVALSHA."""
        return self._add(("EVALSHA", script.sha, len(keys), *keys, *args), script)

    @property
    def packs(self) -> bool:
        """True when the commands go through the lean connection, which takes packed ones
        (:meth:`run_packed`); False when they go through redis-py (TLS, fakeredis)."""
        return self._wire is not None

    def run_packed(self, script: Any, evalsha: bytes) -> asyncio.Future[Any]:
        """:meth:`run_script` with its EVALSHA already packed as RESP (only when :attr:`packs`)."""
        return self._add(evalsha, script)

    def _add(self, command: tuple[Any, ...], script: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((command, future, script))
        if len(self._pending) >= self._max_batch:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        if self._wire is not None and self._wire.connected:
            # The steady state: write now, the reader delivers the replies; no task or future per batch.
            self._wire.send([command for command, _, _ in batch], lambda result: self._deliver(batch, result))
            return
        self._spawn(self._send(batch))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _deliver(self, batch: list[_Pending], results: list[Any] | BaseException) -> None:
        if isinstance(results, BaseException):
            self._fail(batch, results)
            return
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            # Rare: Redis forgot a script (restart, SCRIPT FLUSH). Those commands did not run:
            # the slow path loads the script and sends just them again.
            self._spawn(self._send([batch[i] for i in missing], load_first=True))
            kept = [i for i in range(len(batch)) if i not in set(missing)]
            batch, results = [batch[i] for i in kept], [results[i] for i in kept]
        self._resolve(batch, results)

    @staticmethod
    def _fail(batch: list[_Pending], exc: BaseException) -> None:
        for _, future, _ in batch:
            if not future.done():
                future.set_exception(exc)

    @staticmethod
    def _resolve(batch: list[_Pending], results: list[Any]) -> None:
        for (_, future, _), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _execute(self, batch: list[_Pending]) -> list[Any]:
        if self._wire is not None:
            return await self._wire.execute([command for command, _, _ in batch])
        if len(batch) == 1:
            try:
                return [await self._redis.execute_command(*batch[0][0])]
            except NoScriptError as exc:
                return [exc]
        pipe = self._redis.pipeline(transaction=False)
        for command, _, _ in batch:
            pipe.execute_command(*command)
        return await pipe.execute(raise_on_error=False)

    async def _load_scripts(self, batch: list[_Pending]) -> None:
        for script in {id(s): s for _, _, s in batch if s is not None}.values():
            await self._redis.script_load(script.script)

    async def _send(self, batch: list[_Pending], *, load_first: bool = False) -> None:
        try:
            if load_first:
                await self._load_scripts(batch)
            results = await self._execute(batch)
            missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
            if missing:
                # Redis restarted or flushed its script cache: load once, send those again.
                await self._load_scripts([batch[i] for i in missing])
                retried = await self._execute([batch[i] for i in missing])
                for i, result in zip(missing, retried, strict=True):
                    results[i] = result
        except Exception as exc:  # noqa: BLE001 - every waiter gets the failure (Redis down -> 503)
            self._fail(batch, exc)
            return
        self._resolve(batch, results)

    async def aclose(self) -> None:
        if self._wire is not None:
            await self._wire.aclose()
