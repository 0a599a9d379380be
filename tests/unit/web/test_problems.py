"""Every lower-level error maps to a problem; bugs become a generic 500 without details."""

from __future__ import annotations

import peewee
import pytest
import redis.exceptions
from aiohttp import web

from models import errors
from web.problems import translate


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (web.HTTPNotFound(), errors.NotFound),
        (web.HTTPMethodNotAllowed("GET", ["POST"]), errors.MethodNotAllowed),
        (web.HTTPRequestEntityTooLarge(max_size=10, actual_size=20), errors.PayloadTooLarge),
        (redis.exceptions.ConnectionError("down"), errors.Unavailable),
        (redis.exceptions.TimeoutError("slow"), errors.Unavailable),
        (peewee.OperationalError("locked"), errors.Unavailable),
        (peewee.InterfaceError("closed"), errors.Unavailable),
        (ValueError("A string literal cannot contain NUL (0x00) characters."), errors.InvalidInput),
    ],
)
def test_lower_level_errors_are_translated(exc, expected):
    assert isinstance(translate(exc), expected)


def test_a_bug_is_not_translated():
    assert translate(KeyError("x")) is None


def test_every_domain_error_has_a_client_or_server_status_and_a_code():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.TicketDropError)]
    assert len(classes) > 15
    for cls in classes:
        assert 400 <= cls.status <= 599, cls
        assert cls.code and cls.title and cls.__doc__, cls


async def test_an_unexpected_exception_is_a_generic_500_problem(aiohttp_client, app):
    async def boom(request):
        raise KeyError("secret internals")

    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    resp = await client.get("/boom")
    assert resp.status == 500
    body = await resp.json()
    assert resp.content_type == "application/problem+json"
    assert "secret internals" not in body["detail"]


async def test_redis_down_is_503_with_retry_after(aiohttp_client, app):
    async def down(request):
        raise redis.exceptions.ConnectionError("Connection refused")

    app.router.add_get("/down", down)
    client = await aiohttp_client(app)
    resp = await client.get("/down")
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "2"
