"""Request bodies on a real socket (issue 12, findings 2 and 10): a body that never arrives ends
in a 408, a declared size over the limit is a 413 before any byte is read, and a client that
hangs up mid-body is logged as a routine event."""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
import pytest

from tests.conftest import make_settings

#: The body read timeout these tests run with, in seconds.
TIMEOUT_S = 0.5
#: How long aiohttp keeps reading (and dropping) an unread body after answering, in seconds.
LINGERING_S = 0.5


@pytest.fixture
def body_read_timeout_s() -> float:
    return TIMEOUT_S


@pytest.fixture
def settings(tmp_path, body_read_timeout_s):
    return make_settings(tmp_path, body_read_timeout_s=body_read_timeout_s, max_body_bytes=4096)


@pytest.fixture
async def server(aiohttp_server, app):
    return await aiohttp_server(app, lingering_time=LINGERING_S)


async def send(server, head: str, body: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
    await writer.drain()
    return reader, writer


def post(path: str, length: int, **headers: str) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json", f"Content-Length: {length}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return "\n".join(lines) + "\n"


async def answer(reader: asyncio.StreamReader, within_s: float) -> tuple[int, dict[str, str], dict]:
    """Status, headers and JSON body of one response."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=within_s)
    lines = head.decode().strip().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), timeout=within_s)
    return int(lines[0].split()[1]), headers, orjson.loads(body)


async def closed(reader: asyncio.StreamReader) -> bool:
    """True if the server closes the connection (after its lingering read) rather than keeping it."""
    try:
        return await asyncio.wait_for(reader.read(), timeout=LINGERING_S + 5) == b""
    except ConnectionResetError:
        return True


async def test_a_body_that_stops_arriving_is_a_408_and_the_connection_is_closed(server, db):
    reader, writer = await send(server, post("/admin/events", 60_000 // 20, Authorization="Bearer test-admin-token"), b'{"name": ')
    status, headers, body = await answer(reader, within_s=TIMEOUT_S + 5)
    assert status == 408
    assert headers["content-type"] == "application/problem+json"
    assert body["code"] == "request_timeout" and body["errors"][0]["field"] == "body"
    assert await closed(reader)
    writer.close()


async def test_a_declared_length_over_the_limit_is_a_413_before_the_body_is_read(server, db):
    reader, writer = await send(server, post("/admin/events", 2_147_483_648, Authorization="Bearer test-admin-token"), b"{}")
    status, headers, body = await answer(reader, within_s=TIMEOUT_S + 5)
    assert status == 413  # not the 408 a wait for the body would end in
    assert body["code"] == "payload_too_large" and body["errors"][0]["field"] == "header.Content-Length"
    assert await closed(reader)
    writer.close()


async def test_a_chunked_body_that_grows_past_the_limit_is_a_413(server, db):
    head = "POST /admin/events HTTP/1.1\nHost: test\nContent-Type: application/json\nTransfer-Encoding: chunked\n"
    chunk = b"x" * 3000
    reader, writer = await send(server, head, (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2)
    status, _, body = await answer(reader, within_s=TIMEOUT_S + 5)
    assert status == 413 and body["code"] == "payload_too_large"
    assert await closed(reader)
    writer.close()


async def test_a_whole_body_is_still_served_normally(server, db):
    payload = b'{"payload": "TD1.x.y.z.s"}'
    reader, writer = await send(server, post("/admin/tickets/verify", len(payload), Authorization="Bearer test-admin-token",
                                             Connection="close"), payload)
    status, _, body = await answer(reader, within_s=5)
    assert status == 200 and body["result"] == "invalid_signature"
    writer.close()


@pytest.mark.parametrize("body_read_timeout_s", [60.0])  # the hang-up comes first, however slow the machine
async def test_a_client_that_hangs_up_mid_body_is_logged_at_info_without_a_traceback(server, db, caplog):
    caplog.set_level(logging.DEBUG)
    reader, writer = await send(server, post("/admin/events", 1000, Authorization="Bearer test-admin-token"), b'{"na')
    await asyncio.sleep(0.1)
    writer.transport.abort()  # a reset, as a phone losing its signal would
    deadline = time.monotonic() + 10  # however loaded the machine, the server notices by then
    while not any("mid-body" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    records = [r for r in caplog.records if r.name.startswith(("ticketdrop", "aiohttp"))]
    assert not [r for r in records if r.levelno >= logging.WARNING], [r.getMessage() for r in records]
    assert not [r for r in records if r.exc_info]
    assert any("mid-body" in r.getMessage() and r.levelno == logging.INFO for r in records)
