"""A first status poll's CPU in the web process and in Redis, its fan's token plain or placed (issue 14).

    python -m bench.firstpoll                                  # ~1 min: 5 rounds of 20,000 polls a variant
    python -m bench.firstpoll --fans 1000000 --polls 50000 --rounds 5

The wrk benchmark (bench.waiting_room) measures a first poll through HTTP, where the machine's
speed moves a ratio by 0.1 between runs: more than a few µs of the poll's own work. Here one
process makes the web tier's service call for a status poll (RoomService.status_answer) for fans
it has not seen, so every call is a first poll, ``--concurrency`` at a time as the event loop
serves them, through the same batcher (pipelines of up to 16 on the lean connection), against a
redis-server of its own (the one ``make run`` starts, over TCP on 127.0.0.1 as production's, no
persistence) holding ``--fans`` places, the pre-queue closed. The variants take turns within each
round, each with a new RoomService (empty caches) and fans of its own, so a drift of the
machine's speed falls on both:

- ``plain``: the 44-character token every fan held before issue 14's placed tokens, and a
  pre-queue fan still holds: one batched ``HGET`` per poll;
- ``placed``: a first-come fan's token, its place and the room's generation signed in
  (models.waiting_room.tokens.placed): no Redis command.

Prints, per variant, the process's CPU (``time.process_time``) and Redis's (from /proc) per poll
and Redis commands per poll, the median over the rounds with the lowest and highest, and the
placed variant's over the plain one's, round by round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
import redis.asyncio as aioredis

from bench import proccpu, workcount
from bench.baseline import free_port, wait_for_port
from models.catalog.snapshot import EventSnapshot
from models.keys import Keys
from models.settings import Settings
from models.waiting_room import RoomService, store, tokens
from ticketdrop.embedded_redis import server_binary

_SECRET_KEY = "firstpoll-" + "s" * 32
_EVENT = "6f1d9a3e-2b7c-4e55-9a0d-5c8b1e2f3a4b"
VARIANTS = ("plain", "placed")


def start_server(directory: str) -> tuple[subprocess.Popen, int]:
    """A redis-server of the bench's own on a free TCP port of 127.0.0.1 (no persistence)."""
    port = free_port()
    server = subprocess.Popen([server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", directory],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, 20.0, server)
    return server, port


def fill(client: redis.Redis, keys: Keys, secret: bytes, fans: int, now_ms: int) -> None:
    """``fans`` first-come places (``user-<i>`` at i + 1), the room live since ``now_ms``."""
    by_bucket: dict[int, dict[str, int]] = {}
    for i in range(fans):
        token = tokens.issue(secret, _EVENT, f"user-{i}")
        by_bucket.setdefault(token.bucket, {})[token.field] = i + 1
    store.write_places(client, keys, _EVENT, by_bucket, now_ms + 86_400_000)
    client.hset(keys.room(_EVENT), mapping={"live": now_ms, "pre": 0, "seq": fans, "pclosed": now_ms,
                                            "opened": now_ms})


def token_texts(secret: bytes, users: list[int], variant: str, generation: int) -> list[str]:
    """The tokens ``user-<i>`` hold in ``variant``: plain, or with the place (i + 1) signed in."""
    plain = [tokens.issue(secret, _EVENT, f"user-{i}") for i in users]
    if variant == "plain":
        return [t.text for t in plain]
    return [tokens.placed(secret, _EVENT, t, generation, i + 1).text for t, i in zip(plain, users, strict=True)]


def event_snapshot(now: datetime) -> EventSnapshot:
    """An event on sale since a minute, as the web tier's snapshot (waves every second)."""
    return EventSnapshot(id=_EVENT, name="First polls", venue="Bench", status="scheduled",
                         on_sale_at=now - timedelta(minutes=1), starts_at=now + timedelta(days=2), paused=False,
                         wave_size=100, wave_interval_s=1.0)


async def poll_all(service: RoomService, event: EventSnapshot, texts: list[str], concurrency: int) -> None:
    """``status_answer`` for every text, ``concurrency`` callers at a time."""
    queue = iter(texts)

    async def caller() -> None:
        for text in queue:
            await service.status_answer(event, text)

    await asyncio.gather(*(caller() for _ in range(concurrency)))


async def measure(url: str, keys: Keys, settings: Settings, event: EventSnapshot, texts: list[str], concurrency: int,
                  sync: redis.Redis, pid: int) -> dict[str, float]:
    """One variant's turn: a new service polls ``texts`` once each. CPU µs (web, Redis) and commands per poll."""
    client = aioredis.Redis.from_url(url, decode_responses=True)  # as the web tier's (models.redis)

    async def blocking(fn, *args):
        return fn(*args)

    service = RoomService(redis=client, keys=keys, settings=settings, run_blocking=blocking)
    try:
        await service.rooms.get(_EVENT)  # the room view, as a serving process has it
        await poll_all(service, event, texts[:concurrency], concurrency)  # the batcher's connection
        polled = texts[concurrency:]
        commands = workcount.commandstats_calls(sync.info("commandstats"))
        redis_before = proccpu.snapshot({"redis": [pid]}, with_children=False)
        cpu = time.process_time()
        await poll_all(service, event, polled, concurrency)
        web_s = time.process_time() - cpu
        redis_used = proccpu.cpu_used(redis_before, proccpu.snapshot({"redis": [pid]}, with_children=False))
        after = workcount.commandstats_calls(sync.info("commandstats"))
    finally:
        await service.aclose()
        await client.aclose()
    calls = sum(after.values()) - sum(commands.values()) - 1  # the INFO that read ``commands``
    return {"web_us": web_s * 1e6 / len(polled), "redis_us": redis_used.total_ms * 1000 / len(polled),
            "redis_commands": calls / len(polled)}


def summary(rounds: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """Each figure's median (lowest-highest) per variant, and placed / plain per round."""
    out: dict[str, Any] = {}
    for variant in VARIANTS:
        out[variant] = {name: {"median": round(statistics.median(r[variant][name] for r in rounds), 2),
                               "min": round(min(r[variant][name] for r in rounds), 2),
                               "max": round(max(r[variant][name] for r in rounds), 2)}
                        for name in ("web_us", "redis_us", "redis_commands")}
    ratios = [r["placed"]["web_us"] / r["plain"]["web_us"] for r in rounds]
    out["placed_over_plain_web"] = {"median": round(statistics.median(ratios), 3), "rounds": [round(x, 3) for x in ratios]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.firstpoll", description=__doc__.split("\n")[0])
    parser.add_argument("--fans", type=int, default=250_000, help="places in the room")
    parser.add_argument("--polls", type=int, default=20_000, help="first polls per variant and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64, help="polls in flight (wrk's connections)")
    args = parser.parse_args(argv)
    if args.fans < (args.polls + args.concurrency) * len(VARIANTS) * args.rounds:
        parser.error("--fans must hold a fresh fan for every poll: at least (polls + concurrency) x 2 x rounds")
    print(f"command: python -m bench.firstpoll {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"load before: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    settings = Settings.from_env({"SECRET_KEY": _SECRET_KEY}, require_secrets=False)
    keys = Keys(f"firstpoll:{os.getpid()}:")
    with tempfile.TemporaryDirectory(prefix="bench-firstpoll-") as directory:
        server, port = start_server(directory)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            sync = redis.Redis.from_url(url)
            now = datetime.now(UTC)
            generation = int(now.timestamp() * 1000)
            fill(sync, keys, settings.secret_bytes, args.fans, generation)
            event = event_snapshot(now)
            users = random.Random(args.fans).sample(range(args.fans), (args.polls + args.concurrency) * 2 * args.rounds)
            per_turn = args.polls + args.concurrency
            rounds = []
            for r in range(args.rounds):
                figures = {}
                order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]  # neither always goes first
                for v, variant in enumerate(order):
                    start = (2 * r + v) * per_turn
                    texts = token_texts(settings.secret_bytes, users[start:start + per_turn], variant, generation)
                    figures[variant] = asyncio.run(measure(url, keys, settings, event, texts, args.concurrency,
                                                           sync, server.pid))
                rounds.append(figures)
                print({"round": r + 1, **{v: {k: round(x, 2) for k, x in f.items()} for v, f in figures.items()}})
            print(summary(rounds))
        finally:
            server.terminate()
            server.wait(10)
    print(f"load after: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
