"""The identity provider's keys (JWKS): kept for JWT_JWKS_CACHE_S, read again when a token names
a key we do not know (at most every JWKS_RETRY_S), and kept when a read fails."""

from __future__ import annotations

import json

import pytest

from models.errors import ConfigError
from models.identity import JWKS_RETRY_S, JwksKeys
from tests.identity_keys import Provider


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def provider() -> Provider:
    return Provider()


def keys_from(source: dict, clock: Clock, cache_s: float = 300) -> JwksKeys:
    """JwksKeys reading ``source["document"]`` (a read of None fails, as an unreachable provider)."""
    def load() -> bytes:
        if source["document"] is None:
            raise OSError("connection refused")
        return json.dumps(source["document"]).encode()

    keys = JwksKeys(load, source="JWT_JWKS_URL", cache_s=cache_s, clock=clock)
    keys.refresh(strict=True)
    return keys


def test_known_keys_are_kept_until_the_cache_time_then_read_again_and_a_revoked_key_goes(provider):
    clock, source = Clock(), {"document": provider.jwks()}
    keys = keys_from(source, clock, cache_s=300)
    clock.now += 299
    assert not keys.due("rsa-1")
    source["document"] = {"keys": [k for k in source["document"]["keys"] if k["kid"] != "rsa-1"]}  # revoked
    clock.now += 1
    assert keys.due("rsa-1") and keys.refresh()
    assert keys.key("rsa-1") is None and keys.key("ec-1") is not None


def test_an_unknown_key_id_reads_the_keys_again_at_most_every_retry_interval(provider):
    clock, source = Clock(), {"document": provider.jwks()}
    keys = keys_from(source, clock)
    assert not keys.due("made-up")  # the start-up read was just now
    clock.now += JWKS_RETRY_S
    assert keys.due("made-up") and not keys.due("rsa-1")
    keys.refresh()
    clock.now += JWKS_RETRY_S / 2
    assert not keys.due("made-up")


def test_a_failed_read_keeps_the_cached_keys_and_at_start_up_names_the_variable(provider):
    clock, source = Clock(), {"document": provider.jwks()}
    keys = keys_from(source, clock, cache_s=10)
    source["document"] = None
    clock.now += 10
    assert keys.due("rsa-1") and not keys.refresh()
    assert keys.key("rsa-1") is not None
    with pytest.raises(ConfigError, match="JWT_JWKS_URL could not be read"):
        keys_from(source, clock)
