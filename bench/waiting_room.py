"""Waiting-room benchmark: ``python -m bench.waiting_room`` (``make bench-waiting-room``).

For each queue size (default 1k, 100k, 1M waiting fans) it makes an event, fills half its
queue before on-sale (the pre-queue) straight into Redis through the join script, draws the
pre-queue, fills the other half first come first served, and measures:

- Redis memory per waiting fan (MEMORY USAGE of the event's keys, and the INFO used_memory delta);
- the draw time, and the wave tick time (median of ``--ticks`` ticks: flat in queue size);
- for sizes >= ``--http-min``: status/s (first polls, which read Redis, and repeat polls) and
  join/s through HTTP against one real web process (``python -m web``), with the same load
  generator (bench/loadgen.py) and concurrency as the trivial aiohttp JSON handler of
  bench/baseline.py, measured in the same run. Ratios are given two ways: requests per second
  (what the load generator achieved) and server CPU per request (the server's capacity, which
  does not depend on the load generator sharing the machine).

Needs a Redis (REDIS_URL, default redis://127.0.0.1:6379/0); keys live under a unique prefix
and are deleted at the end. The database is a throwaway SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from bench.baseline import free_port, wait_for_port
from bench.loadgen import run_load
from models.db import bind_database, create_schema, open_database
from models.keys import Keys
from models.redis import connect_sync, scripts
from models.settings import ROOT, Settings
from models.tables import Event, TicketTier
from models.waiting_room import store, tokens
from models.waiting_room.journal import flush_journal
from models.waiting_room.restore import ensure_live
from models.waiting_room.sales import selling_events
from models.waiting_room.waves import step_event

#: Joins sent to Redis per pipeline while filling.
FILL_CHUNK = 5_000
#: Fans who poll again and again in the repeat-poll measurement (a web process's working set).
REPEAT_FANS = 5_000


def fill(redis, keys: Keys, secret: bytes, event_id: str, users: range, now_ms: int, on_sale_ms: int) -> None:
    """Join ``user-<i>`` for every i in ``users`` through room_join.lua, pipelined."""
    script = scripts(redis).get("room_join")
    redis.script_load(script.script)  # so the pipelines can EVALSHA it
    redis.hsetnx(keys.room(event_id), "live", now_ms)  # a new room, as the first join through the web opens it
    expire_at = now_ms + 7 * 86_400_000
    for start in range(users.start, users.stop, FILL_CHUNK):
        pipe = redis.pipeline(transaction=False)
        for i in range(start, min(start + FILL_CHUNK, users.stop)):
            token = tokens.issue(secret, event_id, f"user-{i}")
            call_keys, args = store.join_call(keys, event_id, token, now_ms, on_sale_ms, expire_at)
            pipe.evalsha(script.sha, len(call_keys), *call_keys, *args)
        pipe.execute()


def room_bytes(redis, keys: Keys, event_id: str) -> int:
    """MEMORY USAGE summed over every key of the event's room."""
    total = 0
    names = list(redis.scan_iter(match=keys.room(event_id) + "*", count=2000))
    for start in range(0, len(names), 1000):
        pipe = redis.pipeline(transaction=False)
        for name in names[start:start + 1000]:
            pipe.memory_usage(name, samples=0)
        total += sum(int(v or 0) for v in pipe.execute())
    return total


def _used_memory(redis) -> int:
    return int(redis.info("memory")["used_memory"])


def make_event(wave_size: int) -> Event:
    on_sale = datetime.now(UTC) + timedelta(hours=1)
    event = Event.create(name="Bench drop", venue="Bench", starts_at=on_sale + timedelta(days=2), on_sale_at=on_sale,
                         status="scheduled", wave_size=wave_size, wave_interval_s=1.0)
    TicketTier.create(event=event, name="GA", price_cents=1000, capacity=1_000_000_000)
    return event


def build_queue(redis, keys: Keys, settings: Settings, size: int, ticks: int) -> dict:
    """Fill one event to ``size`` fans (half pre-queue), draw, tick. Returns the figures."""
    event = make_event(settings.wave_size)
    event_id = str(event.id)
    on_sale_ms = int(event.on_sale_at.timestamp() * 1000)
    mem_before = _used_memory(redis)
    half = size // 2
    t = time.perf_counter()
    fill(redis, keys, settings.secret_bytes, event_id, range(0, half), on_sale_ms - 60_000, on_sale_ms)
    # The sale opens now: move on_sale_at into the past, then draw and fill the rest first come.
    now = datetime.now(UTC)
    Event.update(on_sale_at=now - timedelta(seconds=1)).where(Event.id == event.id).execute()
    now_ms = int(now.timestamp() * 1000)
    sale = next(e for e in selling_events(now_ms, settings.wave_size, 1.0) if e.id == event_id)
    # The scheduler copies joins to the database every tick; here all of each half at once.
    copy_t = time.perf_counter()
    flush_journal(redis, keys, event_id)
    copy_s = time.perf_counter() - copy_t
    draw_t = time.perf_counter()
    step_event(redis, keys, settings, dataclasses.replace(sale, paused=True), now_ms)  # the draw alone, no wave
    draw_s = time.perf_counter() - draw_t
    fill(redis, keys, settings.secret_bytes, event_id, range(half, size), now_ms, now_ms - 1000)
    fill_s = time.perf_counter() - t - draw_s - copy_s
    copy_t = time.perf_counter()
    flush_journal(redis, keys, event_id)
    copy_s += time.perf_counter() - copy_t
    mem_after = _used_memory(redis)
    bytes_total = room_bytes(redis, keys, event_id)
    tick_ms = []
    for i in range(ticks):
        t = time.perf_counter()
        step_event(redis, keys, settings, sale, now_ms + 1000 * (i + 1))
        tick_ms.append((time.perf_counter() - t) * 1000)
    counters = store.read_counters(redis, keys, event_id)
    restore_s = time_restore(redis, keys, settings, sale, size, now_ms + 1000 * (ticks + 1))
    return {
        "event_id": event_id, "size": size, "total": counters.total, "admitted": counters.up_to,
        "fill_s": round(fill_s, 2), "draw_s": round(draw_s, 3), "restore_s": round(restore_s, 2),
        "journal_rows_per_s": round(size / copy_s) if copy_s else None,
        "bytes_per_fan": round(bytes_total / size, 1), "info_bytes_per_fan": round((mem_after - mem_before) / size, 1),
        "tick_ms_median": round(statistics.median(tick_ms), 2), "tick_ms_max": round(max(tick_ms), 2),
        "bucket_encoding": redis.object("encoding", keys.room_bucket(event_id, 1)),
    }


def time_restore(redis, keys: Keys, settings: Settings, sale, size: int, now_ms: int) -> float:
    """Lose the room (delete its keys), restore it from the database as the tick would, check a
    sample of places came back unchanged. Returns the restore's seconds."""
    sample = [f"user-{i}" for i in random.sample(range(size), min(size, 1000))]
    before = [_place(redis, keys, settings.secret_bytes, sale.id, u) for u in sample]
    counters = store.read_counters(redis, keys, sale.id)
    for name in redis.scan_iter(match=keys.room(sale.id) + "*", count=5000):
        if not name.endswith(":lease"):
            redis.unlink(name)
    t = time.perf_counter()
    ensure_live(redis, keys, settings.secret_bytes, sale.id, sale.wave_interval_s, now_ms, now_ms + 7 * 86_400_000)
    elapsed = time.perf_counter() - t
    after = [_place(redis, keys, settings.secret_bytes, sale.id, u) for u in sample]
    restored = store.read_counters(redis, keys, sale.id)
    if after != before or (restored.total, restored.up_to) != (counters.total, counters.up_to):
        raise SystemExit(f"restore changed places: {sum(a != b for a, b in zip(after, before, strict=True))} of {len(sample)} sampled")
    return elapsed


def _place(redis, keys: Keys, secret: bytes, event_id: str, user: str) -> int | None:
    token = tokens.issue(secret, event_id, user)
    value = redis.hget(store.bucket_key(keys, event_id, token), token.field)
    return None if value is None else int(value)


def _spawn(argv: list[str], env: dict, log_path: Path, port: int) -> subprocess.Popen:
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_port(port, 20.0, proc)
    return proc


def start_web(settings: Settings, database_url: str, log_path: Path, *, rate_limits: bool = False
              ) -> tuple[subprocess.Popen, int]:
    """One web process (``python -m web``) on a free port, against the bench's Redis and database.
    One client address sends everything, so real limits would refuse it: they are off, or with
    ``rate_limits`` so high that every join is checked (and counted) but none refused."""
    port = free_port()
    limit = str(10**7) if rate_limits else "0"
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "REDIS_URL": settings.redis_url,
           "REDIS_PREFIX": settings.redis_prefix, "DATABASE_URL": database_url, "BROKER_URL": "stub://",
           "SECRET_KEY": settings.secret_key, "ADMIN_TOKEN": settings.admin_token, "PYTHONPATH": str(ROOT),
           "RATE_JOIN_PER_MIN": limit, "RATE_RESERVE_PER_MIN": limit, "RATE_CHECKOUT_PER_MIN": limit,
           "RATE_PER_IP_PER_MIN": limit}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return _spawn([sys.executable, "-m", "web"], env, log_path, port), port


def start_baseline(log_path: Path) -> tuple[subprocess.Popen, int]:
    """The trivial aiohttp JSON handler of bench/baseline.py, in its own process."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return _spawn([sys.executable, "-m", "bench.baseline", "serve", str(port)], env, log_path, port), port


async def measured(proc: subprocess.Popen, make_request, requests: int, concurrency: int) -> dict:
    """Run the load; add the server's CPU time per request (user + system, microseconds)."""
    server = psutil.Process(proc.pid)
    before = server.cpu_times()
    result = await run_load(make_request, concurrency, total=requests)
    after = server.cpu_times()
    cpu_s = (after.user - before.user) + (after.system - before.system)
    return {**result.as_dict(), "server_cpu_us_per_request": round(cpu_s / max(1, result.count) * 1e6, 1)}


async def baseline_figures(proc: subprocess.Popen, port: int, requests: int, concurrency: int) -> dict:
    url = f"http://127.0.0.1:{port}/"

    async def hit(session, i: int) -> int:
        async with session.get(url) as resp:
            await resp.read()
            return resp.status

    await run_load(hit, concurrency, total=min(1000, requests))  # warm-up: connections, caches
    return await measured(proc, hit, requests, concurrency)


async def http_figures(proc: subprocess.Popen, port: int, event_id: str, size: int, secret: bytes, requests: int,
                       concurrency: int) -> dict:
    """status/s for first polls (every request a fan this process has not seen: the Redis path),
    status/s for repeat polls (REPEAT_FANS fans polling in turn: the steady state), join/s."""
    base = f"http://127.0.0.1:{port}/events/{event_id}/waiting-room"
    picked = random.Random(size).sample(range(size), min(size, requests + REPEAT_FANS))
    first = [tokens.issue(secret, event_id, f"user-{i}").text for i in picked[REPEAT_FANS:]]
    repeat = [tokens.issue(secret, event_id, f"user-{i}").text for i in picked[:REPEAT_FANS]]
    run_id = uuid.uuid4().hex[:6]

    def poller(sample: list[str]):
        async def poll(session, i: int) -> int:
            async with session.get(f"{base}/status", params={"token": sample[i % len(sample)]}) as resp:
                await resp.read()
                return resp.status
        return poll

    async def join(session, i: int) -> int:
        async with session.post(f"{base}/join", headers={"X-User-Id": f"join-{run_id}-{i}"}) as resp:
            await resp.read()
            return resp.status

    await run_load(poller(repeat), concurrency, total=REPEAT_FANS)  # warm-up, and each repeat fan's first poll
    return {"status_first_poll": await measured(proc, poller(first), len(first), concurrency),
            "status_repeat_poll": await measured(proc, poller(repeat), requests, concurrency),
            "join": await measured(proc, join, requests, concurrency)}


def _ratios(base: dict, fig: dict) -> dict:
    """Throughput ratios to the trivial handler (rps: what the issue targets; cpu: server
    capacity, independent of how much CPU the load generator takes on the same machine)."""
    out = {}
    for name, m in fig.items():
        out[f"{name}_rps_ratio"] = round(m["rps"] / base["rps"], 2)
        out[f"{name}_cpu_ratio"] = round(base["server_cpu_us_per_request"] / max(0.1, m["server_cpu_us_per_request"]), 2)
    return out


def _cleanup(redis, prefix: str) -> None:
    for name in redis.scan_iter(match=prefix + "*", count=5000):
        redis.unlink(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.waiting_room", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000", help="waiting fans per queue, comma-separated")
    parser.add_argument("--http-min", type=int, default=100_000, help="load HTTP for queues at least this big")
    parser.add_argument("--requests", type=int, default=20_000, help="requests per HTTP measurement")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--ticks", type=int, default=20, help="wave ticks timed per queue")
    parser.add_argument("--rate-limits", action="store_true",
                        help="run the web process with its rate limiter on (limits too high to refuse)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    workdir = Path(tempfile.mkdtemp(prefix="bench-wr-"))
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    settings = Settings.from_env({**os.environ, "REDIS_PREFIX": f"bench_wr_{uuid.uuid4().hex[:8]}:", "DATABASE_URL": database_url})
    bind_database(open_database(database_url))
    create_schema()
    redis = connect_sync(settings.redis_url)
    keys = Keys(settings.redis_prefix)
    servers: list[subprocess.Popen] = []
    try:
        queues = []
        for size in sizes:
            queues.append(build_queue(redis, keys, settings, size, args.ticks))
            print({k: v for k, v in queues[-1].items() if k != "event_id"}, flush=True)
        loaded = [q for q in queues if q["size"] >= args.http_min]
        if loaded:
            baseline, base_port = start_baseline(workdir / "baseline.log")
            web, port = start_web(settings, database_url, workdir / "web.log", rate_limits=args.rate_limits)
            servers += [baseline, web]
            for q in loaded:
                # The yardstick again right before each measurement: others' load on the machine drifts.
                base = asyncio.run(baseline_figures(baseline, base_port, args.requests, args.concurrency))
                fig = asyncio.run(http_figures(web, port, q["event_id"], q["size"], settings.secret_bytes,
                                               args.requests, args.concurrency))
                print({"size": q["size"], "baseline": base, **fig}, flush=True)
                print({"size": q["size"], **_ratios(base, fig)}, flush=True)
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=15)
        _cleanup(redis, settings.redis_prefix)
        redis.close()
    print(f"web log: {workdir / 'web.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
