"""The one per-process cache: bounded in size and time, one load per burst of misses."""

from __future__ import annotations

import asyncio

import pytest

from models.ttlcache import TTLCache


def test_a_value_is_fresh_until_its_deadline():
    cache: TTLCache[str, int] = TTLCache(ttl_s=10.0, max_size=4)
    cache.put("a", 1)
    assert cache.fresh("a") == 1
    cache.put("b", 2, ttl_s=0.0)
    assert cache.fresh("b") is None and cache.previous("b") == 2


def test_the_oldest_stored_key_goes_first_when_full():
    cache: TTLCache[str, int] = TTLCache(ttl_s=10.0, max_size=2)
    for key, value in (("a", 1), ("b", 2), ("a", 3), ("c", 4)):
        cache.put(key, value)
    assert list(cache) == ["a", "c"] and len(cache) == 2


def test_an_expired_key_is_a_miss_that_keeps_its_value_for_the_next_load():
    cache: TTLCache[str, int] = TTLCache(ttl_s=10.0, max_size=2)
    cache.put("a", 1)
    cache.expire("a")
    assert cache.fresh("a") is None and "a" in cache
    seen = []

    async def load(previous):
        seen.append(previous)
        return previous + 1

    assert asyncio.run(cache.get("a", load)) == 2
    assert seen == [1] and cache.fresh("a") == 2


def test_concurrent_misses_of_one_key_share_one_load():
    cache: TTLCache[str, int] = TTLCache(ttl_s=10.0, max_size=2)
    calls = 0

    async def load(_previous):
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 7

    async def burst():
        return await asyncio.gather(*(cache.get("a", load) for _ in range(20)))

    assert asyncio.run(burst()) == [7] * 20
    assert calls == 1


def test_a_load_that_gives_none_stores_nothing():
    cache: TTLCache[str, int] = TTLCache(ttl_s=10.0, max_size=2)

    async def nothing(_previous):
        return None

    assert asyncio.run(cache.get("a", nothing)) is None
    assert "a" not in cache


def test_a_failed_load_reaches_every_waiter_and_stores_nothing():
    cache: TTLCache[str, int] = TTLCache(ttl_s=10.0, max_size=2)

    async def fail(_previous):
        await asyncio.sleep(0.01)
        raise ConnectionError("redis down")

    async def burst():
        return await asyncio.gather(*(cache.get("a", fail) for _ in range(3)), return_exceptions=True)

    results = asyncio.run(burst())
    assert all(isinstance(r, ConnectionError) for r in results)
    assert "a" not in cache and not cache.is_loading("a")
    with pytest.raises(ConnectionError):
        asyncio.run(cache.get("a", fail))
