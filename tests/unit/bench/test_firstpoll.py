"""bench.firstpoll: both variants' fans find the place the room holds for them, one with a Redis
lookup and one from the token alone, and the summary compares them round by round."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bench.firstpoll import event_snapshot, fill, poll_all, summary, token_texts
from models.waiting_room import RoomService, tokens


async def _blocking(fn, *args):
    return fn(*args)


async def test_plain_and_placed_tokens_poll_the_places_the_room_holds(redis, aredis, keys, settings, monkeypatch):
    generation = int(time.time() * 1000)
    fill(redis, keys, settings.secret_bytes, 50, generation)
    event = event_snapshot(datetime.now(UTC))
    plain, placed = (token_texts(settings.secret_bytes, [7, 3], variant, generation) for variant in ("plain", "placed"))
    assert [len(t) for t in plain + placed] == [tokens.TOKEN_CHARS] * 2 + [tokens.PLACED_TOKEN_CHARS] * 2

    service = RoomService(redis=aredis, keys=keys, settings=settings, run_blocking=_blocking)
    assert [(await service.status_answer(event, t)).document["position"] for t in plain] == [8, 4]
    fresh = RoomService(redis=aredis, keys=keys, settings=settings, run_blocking=_blocking)
    lookups = []
    monkeypatch.setattr(fresh.batcher, "hget", lambda *args: lookups.append(args))
    assert [(await fresh.status_answer(event, t)).document["position"] for t in placed] == [8, 4]
    assert lookups == []
    await poll_all(fresh, event, placed * 3, concurrency=2)
    assert lookups == []


def test_the_summary_gives_each_figures_median_and_the_placed_over_plain_web_cpu_per_round():
    def figures(web, redis_us, commands):
        return {"web_us": web, "redis_us": redis_us, "redis_commands": commands}

    rounds = [{"plain": figures(14.0, 2.0, 1.0), "placed": figures(7.0, 0.0, 0.0)},
              {"plain": figures(16.0, 3.0, 1.0), "placed": figures(12.0, 0.0, 0.0)},
              {"plain": figures(15.0, 2.5, 1.0), "placed": figures(6.0, 0.0, 0.0)}]

    out = summary(rounds)

    assert out["plain"]["web_us"] == {"median": 15.0, "min": 14.0, "max": 16.0}
    assert out["placed"]["redis_commands"]["median"] == 0.0
    assert out["placed_over_plain_web"] == {"median": 0.5, "rounds": [0.5, 0.75, 0.4]}
