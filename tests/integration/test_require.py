"""``require``: an unreachable server skips locally and fails in CI."""

from __future__ import annotations

import pytest

from tests.integration.conftest import require

pytestmark = pytest.mark.integration


def _unreachable() -> None:
    raise ConnectionRefusedError("connection refused")


def test_an_unreachable_server_skips_the_test_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Redis is not reachable: ConnectionRefusedError"):
        require("Redis", _unreachable)


def test_an_unreachable_server_fails_the_test_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is not reachable"):
        require("PostgreSQL", _unreachable)


def test_a_reachable_server_hands_back_what_the_check_returned(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert require("anything", lambda: 42) == 42
