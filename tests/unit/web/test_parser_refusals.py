"""What aiohttp's HTTP parser refuses by itself (issue 12, finding 9), as docs/api.md states it:
a plain-text 400 the application never sees, for a control character in a header value, a
header value over 8,190 bytes and more than 128 headers; everything just inside those limits
reaches the application and is answered as problem+json. If aiohttp starts passing these to the
application, these tests fail and docs/api.md must change."""

from __future__ import annotations

import asyncio

import pytest


async def _raw(client, headers: bytes) -> tuple[str, str]:
    """(status line, Content-Type) of a GET /me/orders sent with ``headers`` over a raw socket."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(b"GET /me/orders HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    finally:
        writer.close()
    lines = head.decode("latin-1").split("\r\n")
    ctype = next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("content-type:")), "")
    return lines[0], ctype


@pytest.mark.parametrize("value", [b"a\x00b", b"a\x7fb", b"a\x01b", b"a" * 8191], ids=["NUL", "DEL", "SOH", "8191 bytes"])
async def test_the_parser_answers_a_bad_header_value_itself_in_plain_text(client, value):
    status, ctype = await _raw(client, b"X-User-Id: " + value + b"\r\n")
    assert status.endswith("400 Bad Request") and ctype.startswith("text/plain")


async def test_the_parser_answers_more_than_128_headers_itself_in_plain_text(client):
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(127)) + b"X-User-Id: fan-1\r\n"  # with Host: 129
    status, ctype = await _raw(client, headers)
    assert status.endswith("400 Bad Request") and ctype.startswith("text/plain")


@pytest.mark.parametrize("value", [b"a\tb", "caf\u00e9".encode(), b"a" * 8190], ids=["tab", "UTF-8", "8190 bytes"])
async def test_a_bad_header_value_the_parser_lets_through_is_a_problem_naming_it(client, value):
    status, ctype = await _raw(client, b"X-User-Id: " + value + b"\r\n")
    assert status == "HTTP/1.1 400 Bad Request" and ctype == "application/problem+json"


async def test_128_headers_reach_the_application(client):
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(126)) + b"X-User-Id: fan-1\r\n"  # with Host: 128
    status, ctype = await _raw(client, headers)
    assert status == "HTTP/1.1 200 OK" and ctype == "application/json"
