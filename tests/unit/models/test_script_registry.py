"""Lua scripts are made once per process by a registry of ours, not attached to any client."""

from __future__ import annotations

import asyncio
import gc
import weakref

import fakeredis

from models.redis import ScriptRegistry, lua_source, scripts


def test_a_client_keeps_its_bound_scripts_while_it_lives():
    client = fakeredis.FakeRedis()
    assert scripts(client) is scripts(client)
    assert scripts(client).get("room_join") is scripts(client).get("room_join")


def test_a_script_runs_on_the_client_it_is_asked_for():
    client = fakeredis.FakeRedis(decode_responses=True)
    script = scripts(client).get("room_join")
    assert script.script == lua_source("room_join") and len(script.sha) == 40
    assert scripts(client).get("room_join").sha == script.sha


def test_the_same_script_serves_every_client_of_a_flavour():
    one, two = fakeredis.FakeRedis(), fakeredis.FakeRedis()
    assert scripts.script("room_join", one) is scripts.script("room_join", two)
    assert scripts.script("room_join", fakeredis.FakeAsyncRedis()) is not scripts.script("room_join", one)


def test_nothing_is_attached_to_a_client_and_none_is_kept_alive():
    client = fakeredis.FakeRedis()
    before = set(vars(client))
    scripts(client).get("room_join")
    assert set(vars(client)) == before
    registry = ScriptRegistry()
    registry(client).get("room_join")
    assert len(registry) == 1
    gone = weakref.ref(client)
    del client
    gc.collect()
    assert gone() is None and len(registry) == 0


def test_a_blocking_client_and_its_pipeline_run_the_script():
    client = fakeredis.FakeRedis(decode_responses=True)
    assert scripts(client).get("wl_adjust")(keys=["wl"], args=["tier-1", 2, 1]) == 2
    pipe = client.pipeline()
    scripts(pipe).get("wl_adjust")(keys=["wl"], args=["tier-1", -2, 1])
    assert pipe.execute() == [0]
    assert client.hgetall("wl") == {}


def test_an_asyncio_client_awaits_its_script():
    async def run() -> int:
        client = fakeredis.FakeAsyncRedis(decode_responses=True)
        return await scripts(client).get("wl_adjust")(keys=["wl"], args=["tier-1", 3, 1])

    assert asyncio.run(run()) == 3
