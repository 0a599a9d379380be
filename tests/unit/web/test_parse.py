"""Prefer: wait parsing."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from web.parse import prefer_wait


def _req(prefer: str | None):
    headers = {"Prefer": prefer} if prefer is not None else {}
    return make_mocked_request("POST", "/", headers=headers)


def test_prefer_wait_reads_seconds():
    assert prefer_wait(_req("wait=3")) == 3.0


def test_prefer_wait_is_capped_at_ten_seconds():
    assert prefer_wait(_req("respond-async, wait=100")) == 10.0


def test_prefer_without_wait_is_none():
    assert prefer_wait(_req("respond-async")) is None
    assert prefer_wait(_req(None)) is None
