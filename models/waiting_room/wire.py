"""A lean pipelined Redis connection for the waiting room's hot path (status lookups, joins).

redis-py spends about 20 microseconds of Python per pipelined command (packing, response
objects); on a status poll that is more than the rest of the handler. Here commands are packed
and replies parsed by hiredis (C), many batches may be in flight on one connection, and one
reader task hands each batch its replies in order: a few microseconds per command.

Only plain TCP and Unix-socket connections built by redis-py from REDIS_URL are mirrored
(:meth:`PipelinedConnection.for_client` returns None otherwise, e.g. for TLS or fakeredis, and
the caller keeps using redis-py). Failures surface as redis-py's exceptions, so the web tier
maps them as usual (ConnectionError/TimeoutError -> 503).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import hiredis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: Bytes read per socket read.
_READ_SIZE = 1 << 16
#: Above this many unsent bytes a writer waits for the socket to drain.
_HIGH_WATER = 1 << 20

_pack = hiredis.pack_command


def _reply(value: Any) -> Any:
    """hiredis error objects as redis-py exceptions (returned, not raised: one per command)."""
    if isinstance(value, hiredis.ReplyError):
        message = str(value)
        return NoScriptError(message) if message.startswith("NOSCRIPT") else ResponseError(message)
    return value


def bulk(value: bytes) -> bytes:
    """``value`` as a RESP bulk string (what hiredis.pack_command makes of one argument)."""
    return b"$%d\r\n%b\r\n" % (len(value), value)


class PipelinedConnection:
    """One connection; ``await conn.execute([("HGET", k, f), ...])`` -> the replies, in order.
    A command is a tuple of its arguments, or bytes already packed as RESP (a join packs the
    parts of its EVALSHA that every join of its event shares once: store.JoinCall.packed)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 6379, path: str | None = None, db: int = 0,
                 username: str | None = None, password: str | None = None, timeout_s: float = 10.0,
                 connect_timeout_s: float = 5.0) -> None:
        self._address = (host, port, path)
        self._handshake = ([("AUTH", *([username] if username else []), password)] if password else []) + (
            [("SELECT", db)] if db else [])
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        #: Batches in flight, oldest first: (replies expected, replies so far, deliver, deadline).
        self._waiting: deque[tuple[int, list, Callable[[Any], None], float]] = deque()
        #: One timer for the whole connection, armed for the oldest batch's deadline (not one per batch).
        self._timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def for_client(cls, client: Any) -> PipelinedConnection | None:
        """A connection to the same server and database as a redis-py asyncio ``client``, or
        None when that client is not a plain TCP/Unix one with decoded replies."""
        pool = getattr(client, "connection_pool", None)
        if pool is None or pool.connection_class not in (Connection, UnixDomainSocketConnection):
            return None
        kw = pool.connection_kwargs
        if not kw.get("decode_responses") or kw.get("encoding", "utf-8").lower() not in ("utf-8", "utf8"):
            return None
        return cls(host=kw.get("host", "127.0.0.1"), port=int(kw.get("port", 6379)), path=kw.get("path"),
                   db=int(kw.get("db") or 0), username=kw.get("username"), password=kw.get("password"),
                   timeout_s=kw.get("socket_timeout") or 10.0, connect_timeout_s=kw.get("socket_connect_timeout") or 5.0)

    @property
    def connected(self) -> bool:
        return self._writer is not None

    def submit(self, commands: list[tuple[Any, ...] | bytes]) -> asyncio.Future:
        """Send ``commands`` now (the connection must be up) and return the future of their
        replies, failed with redis TimeoutError if Redis does not answer within the timeout."""
        future = asyncio.get_running_loop().create_future()

        def deliver(result: Any) -> None:
            if not future.done():
                if isinstance(result, BaseException):
                    future.set_exception(result)
                    future.exception()  # a caller that timed out or went away must not log it again
                else:
                    future.set_result(result)

        self.send(commands, deliver)
        return future

    def send(self, commands: list[tuple[Any, ...] | bytes], deliver: Callable[[Any], None]) -> None:
        """Send ``commands`` now (the connection must be up); ``deliver`` is called once, from the
        reader, with the list of their replies, or with the redis ConnectionError/TimeoutError
        that ended the connection (no reply within the timeout). It must not raise."""
        writer = self._writer
        if writer is None:
            raise RedisConnectionError("not connected")
        loop = asyncio.get_running_loop()
        self._waiting.append((len(commands), [], deliver, loop.time() + self._timeout_s))
        writer.write(b"".join([c if c.__class__ is bytes else _pack(c) for c in commands]))
        if self._timer is None:
            self._timer = loop.call_later(self._timeout_s, self._expire)

    async def execute(self, commands: list[tuple[Any, ...] | bytes]) -> list[Any]:
        """Send ``commands`` as one write and return their replies (errors as exception objects).
        Raises redis ConnectionError / TimeoutError if the connection fails or stalls."""
        if self._writer is None:
            await self._connect()
        future = self.submit(commands)
        if self._writer is not None and self._writer.transport.get_write_buffer_size() > _HIGH_WATER:
            await self._writer.drain()
        return await future

    def _expire(self) -> None:
        self._timer = None
        if not self._waiting:
            return
        deadline = self._waiting[0][3]  # the oldest batch: replies come in order
        loop = asyncio.get_running_loop()
        if loop.time() >= deadline:
            self._fail(RedisTimeoutError(f"no reply from Redis within {self._timeout_s} s"))
        else:
            self._timer = loop.call_at(deadline, self._expire)

    async def _connect(self) -> asyncio.StreamWriter:
        async with self._lock:
            if self._writer is not None:
                return self._writer
            host, port, path = self._address
            try:
                opening = asyncio.open_unix_connection(path) if path else asyncio.open_connection(host, port)
                reader, writer = await asyncio.wait_for(opening, self._connect_timeout_s)
                if self._handshake:
                    await self._hello(reader, writer)
            except (TimeoutError, OSError) as exc:
                raise RedisConnectionError(f"cannot connect to Redis at {path or f'{host}:{port}'}: {exc}") from exc
            self._writer = writer
            self._reader_task = asyncio.ensure_future(self._read_loop(reader, writer))
            return writer

    async def _hello(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = hiredis.Reader(encoding="utf-8")
        writer.write(b"".join(hiredis.pack_command(c) for c in self._handshake))
        for _ in self._handshake:
            reply = parser.gets()
            while reply is False:
                data = await asyncio.wait_for(reader.read(_READ_SIZE), self._connect_timeout_s)
                if not data:
                    raise OSError("connection closed during the handshake")
                parser.feed(data)
                reply = parser.gets()
            if isinstance(reply, hiredis.ReplyError):
                writer.close()
                raise RedisConnectionError(f"Redis refused the handshake: {reply}")

    async def _read_loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = hiredis.Reader(encoding="utf-8")
        try:
            while True:
                data = await reader.read(_READ_SIZE)
                if not data:
                    raise RedisConnectionError("Redis closed the connection")
                parser.feed(data)
                reply = parser.gets()
                while reply is not False:
                    expected, replies, deliver, _ = self._waiting[0]
                    replies.append(_reply(reply))
                    if len(replies) == expected:
                        self._waiting.popleft()
                        deliver(replies)
                    reply = parser.gets()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure ends this connection; callers get it
            if self._writer is writer:
                self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        """Drop the connection and fail every batch in flight (the next execute reconnects)."""
        writer, self._writer = self._writer, None
        task, self._reader_task = self._reader_task, None
        waiting, self._waiting = self._waiting, deque()
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if writer is not None:
            writer.close()
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        error = exc if isinstance(exc, (RedisConnectionError, RedisTimeoutError)) else RedisConnectionError(str(exc))
        for _, _, deliver, _ in waiting:
            deliver(error)

    async def aclose(self) -> None:
        self._fail(RedisConnectionError("connection closed"))
