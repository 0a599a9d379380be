"""A lean pipelined Redis connection for the waiting room's hot path (status lookups, joins).

redis-py spends about 20 microseconds of Python per pipelined command (packing, response
objects); on a status poll that is more than the rest of the handler. Here commands are packed
and replies parsed by hiredis (C), many batches may be in flight on one connection, and one
connection's protocol parses replies as they arrive and hands each batch its replies in order
(no reader task): a few microseconds per command.

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

#: Bytes read per socket read during the handshake (after it the transport reads into the protocol).
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
        self._replies: _Replies | None = None
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
        replies = self._replies
        if replies is not None and replies.transport.get_write_buffer_size() > _HIGH_WATER:
            await replies.drained()
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
            # From here the replies are parsed as they arrive (no reader task to wake per reply).
            self._replies = _Replies(self, writer.transport)
            writer.transport.set_protocol(self._replies)
            self._writer = writer
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

    def _received(self, replies: _Replies, data: bytes) -> None:
        if replies is not self._replies:
            return
        parser = replies.parser
        try:
            parser.feed(data)
            reply = parser.gets()
            while reply is not False:
                expected, answered, deliver, _ = self._waiting[0]
                answered.append(_reply(reply))
                if len(answered) == expected:
                    self._waiting.popleft()
                    deliver(answered)
                reply = parser.gets()
        except Exception as exc:  # noqa: BLE001 - any failure ends this connection; callers get it
            self._fail(exc)

    def _lost(self, replies: _Replies, exc: BaseException | None) -> None:
        if replies is self._replies:
            self._fail(exc or RedisConnectionError("Redis closed the connection"))

    def _fail(self, exc: BaseException) -> None:
        """Drop the connection and fail every batch in flight (the next execute reconnects)."""
        writer, self._writer = self._writer, None
        replies, self._replies = self._replies, None
        waiting, self._waiting = self._waiting, deque()
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if writer is not None:
            writer.close()
        if replies is not None:
            replies.wake_writers()
        error = exc if isinstance(exc, (RedisConnectionError, RedisTimeoutError)) else RedisConnectionError(str(exc))
        for _, _, deliver, _ in waiting:
            deliver(error)

    async def aclose(self) -> None:
        self._fail(RedisConnectionError("connection closed"))


class _Replies(asyncio.Protocol):
    """The connection's protocol once it is up: hands each chunk read to the connection's parser
    as it arrives, and pauses writers while the socket's buffer is full."""

    def __init__(self, connection: PipelinedConnection, transport: asyncio.BaseTransport) -> None:
        self.connection = connection
        self.transport = transport
        self.parser = hiredis.Reader(encoding="utf-8")
        self._drained: asyncio.Future | None = None

    def data_received(self, data: bytes) -> None:
        self.connection._received(self, data)

    def eof_received(self) -> None:
        return None  # close the transport: connection_lost says the server went away

    def connection_lost(self, exc: Exception | None) -> None:
        self.wake_writers()
        self.connection._lost(self, exc)

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self.wake_writers()

    def wake_writers(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    async def drained(self) -> None:
        """Return once the socket's buffer is below its high-water mark again (or the connection is gone)."""
        if self._drained is not None:
            await asyncio.shield(self._drained)
