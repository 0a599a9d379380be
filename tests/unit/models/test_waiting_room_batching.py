"""The hot path's plumbing: the command batcher and the lean pipelined Redis connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import hiredis
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from models.keys import Keys
from models.ratelimit import Policy
from models.redis import connect_async, scripts
from models.waiting_room import store, tokens
from models.waiting_room.batching import CommandBatcher
from models.waiting_room.wire import PipelinedConnection
from tests.factories import local_server
from tests.unit.models.test_waiting_room import T0


def command_of(sent: tuple | bytes) -> tuple:
    """A command as the batcher was given it: its arguments, or the arguments packed in it."""
    if not isinstance(sent, bytes):
        return sent
    reader = hiredis.Reader(encoding="utf-8")
    reader.feed(sent)
    return tuple(reader.gets())


@asynccontextmanager
async def lean_connection_to(serve, *, timeout_s: float) -> AsyncIterator[PipelinedConnection]:
    """A lean connection to a local server that answers with ``serve``; closed after."""
    async with local_server(serve) as port:
        wire = PipelinedConnection(host="127.0.0.1", port=port, timeout_s=timeout_s)
        try:
            yield wire
        finally:
            await wire.aclose()


@asynccontextmanager
async def batcher_to(serve, **options) -> AsyncIterator[CommandBatcher]:
    """A batcher (``options`` as CommandBatcher takes them) over a redis-py client of a local
    server that answers with ``serve``; closed after."""
    async with local_server(serve) as port:
        client = Redis(host="127.0.0.1", port=port, decode_responses=True)
        batcher = CommandBatcher(client, **options)
        try:
            yield batcher
        finally:
            await batcher.aclose()
            await client.aclose()


async def test_batched_commands_answer_each_caller_and_reload_scripts_redis_forgot(aredis, keys):
    batcher = CommandBatcher(aredis)
    script = scripts(aredis).get("room_close")
    await aredis.hset("h", mapping={"a": "1", "b": "2"})
    await aredis.script_flush()
    answers = await asyncio.gather(batcher.hget("h", "a"), batcher.hget("h", "b"), batcher.hget("h", "zz"),
                                   batcher.run_script(script, [keys.room("e1")], [T0]))
    assert answers == ["1", "2", None, [0, 0]]
    assert await batcher.run_script(script, [keys.room("e1")], [T0]) == [0, 0]


async def test_any_command_travels_in_the_batch_and_answers_its_raw_reply(aredis):
    batcher = CommandBatcher(aredis)
    first, second = await asyncio.gather(batcher.command("SET", "flag", "1", "NX", "PX", 5000),
                                         batcher.command("SET", "flag", "2", "NX", "PX", 5000))
    assert first and not second
    assert await aredis.get("flag") == "1" and 0 < await aredis.pttl("flag") <= 5000


async def test_an_error_in_one_batched_command_fails_only_its_caller(aredis):
    batcher = CommandBatcher(aredis)
    await aredis.set("s", "x")
    results = await asyncio.gather(batcher.hget("s", "a"), batcher.hget("missing", "a"), return_exceptions=True)
    assert isinstance(results[0], ResponseError) and results[1] is None


async def test_when_redis_is_unreachable_every_caller_in_the_batch_gets_the_connection_error():
    client = connect_async("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    batcher = CommandBatcher(client)
    try:
        results = await asyncio.gather(*(batcher.hget("h", str(i)) for i in range(3)), return_exceptions=True)
    finally:
        await client.aclose()
    assert all(isinstance(r, RedisConnectionError) for r in results)


def test_the_lean_connection_mirrors_only_plain_decoded_redis_clients(aredis):
    assert PipelinedConnection.for_client(aredis) is None  # fakeredis: keep redis-py
    assert PipelinedConnection.for_client(connect_async("rediss://127.0.0.1:6380/0")) is None  # TLS: keep redis-py
    assert PipelinedConnection.for_client(connect_async("redis://127.0.0.1:6379/0", decode_responses=False)) is None
    assert PipelinedConnection.for_client(connect_async("redis://:pw@127.0.0.1:6379/2")) is not None
    assert PipelinedConnection.for_client(connect_async("unix:///tmp/redis.sock?db=1")) is not None


async def test_a_lean_connection_whose_server_stops_answering_times_out_and_fails_the_batch():
    async def silent(reader, writer):
        await reader.read(1 << 16)
        await asyncio.sleep(5)

    async with lean_connection_to(silent, timeout_s=0.2) as wire:
        with pytest.raises(RedisTimeoutError):
            await wire.execute([("PING",)])
        assert not wire.connected  # the next call reconnects


async def test_a_batch_sent_while_an_older_one_is_in_flight_gets_its_whole_timeout_from_its_own_send():
    async def answers_once(reader, writer):
        await reader.read(1 << 16)
        await asyncio.sleep(0.15)  # the first batch is answered late; then the server goes silent
        writer.write(b"+PONG\r\n")
        await asyncio.sleep(5)

    loop = asyncio.get_running_loop()
    async with lean_connection_to(answers_once, timeout_s=0.3) as wire:
        first = asyncio.ensure_future(wire.execute([("PING",)]))
        await asyncio.sleep(0.1)
        sent_at = loop.time()
        delivered: list = []
        wire.send([("PING",), ("PING",)], delivered.append)  # one timer serves both batches
        assert await first == ["PONG"]
        while not delivered:
            await asyncio.sleep(0.01)
        failed_after_s = loop.time() - sent_at
    assert isinstance(delivered[0], RedisTimeoutError) and len(delivered) == 1
    assert 0.29 <= failed_after_s < 0.6  # not when the first batch's deadline passed (0.2 s after this send)
    assert not wire.connected


async def test_a_server_that_hangs_up_fails_every_batch_in_flight_and_the_next_call_reconnects():
    calls = 0

    async def hangs_up_once(reader, writer):
        nonlocal calls
        calls += 1
        data = await reader.read(1 << 16)
        if calls == 1:
            writer.close()
            return
        writer.write(b"+PONG\r\n" * data.count(b"PING"))
        await asyncio.sleep(1)

    async with lean_connection_to(hangs_up_once, timeout_s=5.0) as wire:
        with pytest.raises(RedisConnectionError):
            await wire.execute([("PING",)])
        assert not wire.connected
        assert await wire.execute([("PING",), ("PING",)]) == ["PONG", "PONG"]


async def test_a_writer_waits_while_the_socket_buffer_is_full_and_goes_on_when_it_drains():
    from models.waiting_room.wire import _Replies

    replies = _Replies(PipelinedConnection(), transport=None)
    replies.pause_writing()
    waiting = asyncio.ensure_future(replies.drained())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    replies.resume_writing()
    await asyncio.wait_for(waiting, 1.0)
    await replies.drained()  # not paused: returns at once


class TinyRedis:
    """Just enough RESP to drive the fast path: HGET answers the field name reversed, EVALSHA
    fails with NOSCRIPT until SCRIPT LOAD was called, and every command is recorded."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.loaded = False

    async def serve(self, reader, writer) -> None:
        parser = hiredis.Reader(encoding="utf-8")
        while data := await reader.read(1 << 16):
            parser.feed(data)
            while (command := parser.gets()) is not False:
                self.commands.append(command)
                writer.write(self.answer(command))

    def answer(self, command: list[str]) -> bytes:
        name = command[0].upper()
        if name == "HGET":
            value = command[2][::-1]
            return f"${len(value)}\r\n{value}\r\n".encode()
        if name == "SCRIPT":
            self.loaded = True
            return b"$4\r\nsha1\r\n"
        if name == "EVALSHA":
            return b":7\r\n" if self.loaded else b"-NOSCRIPT No matching script\r\n"
        if name == "NOPE":
            return b"-ERR unknown command\r\n"
        return b"+OK\r\n"  # redis-py's connection set-up (CLIENT SETINFO ...)


class FakeScript:
    sha = "sha1"
    script = "return 7"


async def test_the_fast_path_answers_a_batch_from_one_write_and_resends_only_forgotten_scripts():
    tiny = TinyRedis()
    async with batcher_to(tiny.serve) as batcher:
        assert await batcher.hget("k", "warm") == "mraw"  # connects (slow path); the rest is the fast path
        answers = await asyncio.gather(batcher.hget("k", "abc"), batcher.run_script(FakeScript(), ["k"], []),
                                       batcher.hget("k", "xyz"))
        errors = await asyncio.gather(batcher.hget("k", "ok"), batcher._add(("NOPE",), None), return_exceptions=True)
    assert answers == ["cba", 7, "zyx"]
    sent = [c[0] for c in tiny.commands if c[0] not in ("CLIENT", "HELLO")]
    # One write for the batch; only the script Redis forgot is loaded and sent again.
    assert sent == ["HGET", "HGET", "EVALSHA", "HGET", "SCRIPT", "EVALSHA", "HGET", "NOPE"]
    assert errors[0] == "ko" and isinstance(errors[1], ResponseError)


async def test_a_full_batch_is_written_at_once_so_redis_starts_on_it_while_the_loop_turn_goes_on(monkeypatch):
    tiny = TinyRedis()
    async with batcher_to(tiny.serve, max_batch=2) as batcher:
        assert await batcher.hget("k", "warm") == "mraw"  # connects: the lean connection is up
        writes = []
        send = batcher._wire.send
        monkeypatch.setattr(batcher._wire, "send", lambda commands, deliver: (writes.append(len(commands)),
                                                                              send(commands, deliver))[1])
        full = [batcher.hget("k", "ab"), batcher.hget("k", "cd")]
        assert writes == [2]  # written now, before this turn gives the loop back
        rest = batcher.hget("k", "ef")
        assert writes == [2]  # a batch that is not full waits for the turn's end
        assert await asyncio.gather(*full, rest) == ["ba", "dc", "fe"]
        assert writes == [2, 1]


@given(prefix=st.sampled_from(["td:", "t%d:", "tést:"]), event_id=st.sampled_from(["7", "1234567", "e%s"]),
       user=st.none() | st.text(max_size=40), subjects=st.lists(st.text(max_size=70), max_size=3),
       now_ms=st.integers(0, 2**62), limits_at_ms=st.none() | st.integers(0, 2**62))
@hyp_settings(max_examples=300, deadline=None)
def test_a_packed_join_is_the_evalsha_hiredis_packs_of_its_keys_and_args(prefix, event_id, user, subjects, now_ms,
                                                                         limits_at_ms):
    call = store.JoinCall(Keys(prefix), event_id)
    token = tokens.issue(b"k" * 32, event_id, user)
    policies = [Policy("join", 10), Policy("ip", 600, window_s=30), Policy("x%s", 1)]
    for limits in ([], list(zip(policies, subjects, strict=False))):
        args = (token, now_ms, now_ms // 3, now_ms + 86_400_000, limits, limits_at_ms)
        for sha in ("f" * 40, "0" * 40):  # each script's frame of its own
            keys, argv = call(*args)
            packed = hiredis.pack_command(("EVALSHA", sha, len(keys), *keys, *argv))
            assert call.packed(sha, *args) == packed  # the frame is made
            assert call.packed(sha, *args) == packed  # the frame is reused (a join's two limits: no loops)


def test_a_packed_join_follows_the_events_times_when_they_change():
    # The on-sale and expiry times are packed once and kept while they stay the same.
    call = store.JoinCall(Keys("td:"), "7")
    token = tokens.issue(b"k" * 32, "7", "fan")
    limits = [(Policy("join", 10), "fan"), (Policy("ip", 600), "127.0.0.1")]
    for on_sale_ms, expire_at_ms in ((1_000, 90_000), (1_000, 95_000), (2_000, 95_000), (1_000, 90_000)):
        keys, argv = call(token, 1_500, on_sale_ms, expire_at_ms, limits)
        assert call.packed("f" * 40, token, 1_500, on_sale_ms, expire_at_ms, limits) == hiredis.pack_command(
            ("EVALSHA", "f" * 40, len(keys), *keys, *argv))


def test_a_packed_join_refuses_a_subject_that_is_no_utf8_as_hiredis_does():
    call, token = store.JoinCall(Keys("td:"), "7"), tokens.issue(b"k" * 32, "7", "u")
    with pytest.raises(UnicodeEncodeError):
        call.packed("f" * 40, token, 1, 2, 3, [(Policy("join", 10), "bad\udcff")])
    pair = [Policy("join", 10), Policy("ip", 10)]
    call.packed("f" * 40, token, 1, 2, 3, list(zip(pair, ["u", "127.0.0.1"], strict=True)))
    with pytest.raises(UnicodeEncodeError):
        call.packed("f" * 40, token, 1, 2, 3, list(zip(pair, ["bad\udcff", "127.0.0.1"], strict=True)))


async def test_a_packed_command_travels_in_a_batch_with_the_others():
    tiny = TinyRedis()
    async with batcher_to(tiny.serve) as batcher:
        assert batcher.packs
        evalsha = hiredis.pack_command(("EVALSHA", "sha1", 0))
        answers = await asyncio.gather(batcher.run_packed(FakeScript(), evalsha), batcher.hget("k", "abc"))
        answers += await asyncio.gather(batcher.hget("k", "xyz"), batcher.run_packed(FakeScript(), evalsha))  # connected
    assert answers == [7, "cba", "zyx", 7]
    sent = [c[0] for c in tiny.commands if c[0] not in ("CLIENT", "HELLO")]
    assert sent == ["EVALSHA", "HGET", "SCRIPT", "EVALSHA", "HGET", "EVALSHA"]
