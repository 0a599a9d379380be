"""Waiting-room benchmark: ``python -m bench.waiting_room`` (``make bench-waiting-room``).

For each queue size (default 1k, 100k, 1M waiting fans) it makes an event, fills half its
queue before on-sale (the pre-queue) straight into Redis through the join script, draws the
pre-queue, fills the other half first come first served, and measures:

- Redis memory per waiting fan (MEMORY USAGE of the event's keys, and the INFO used_memory delta);
- the draw time, and the wave tick time (median of ``--ticks`` ticks: flat in queue size);
- for sizes >= ``--http-min``: status/s (first polls, which read Redis, and repeat polls),
  join/s and progress/s (the room's document every fan's browser polls) through HTTP against
  one real web process (``python -m web``), with the same load generator (wrk, bench/wrk.py)
  and concurrency as the trivial aiohttp JSON handler of bench/baseline.py, the yardstick. Each
  round measures the yardstick before and after every route (yardstick, first polls,
  yardstick, repeat polls, yardstick, joins, yardstick, progress polls, yardstick; a round's
  last yardstick is the next round's first), and a route is compared with the
  geometric mean of its two neighbours: the machine's speed drifts within seconds, and one
  yardstick per round biased every ratio of the round it drifted in.
  Ratios are given two ways: requests per second (what the load generator achieved) and server
  CPU per request (the server's capacity, which does not depend on the load generator sharing
  the machine). Each measurement also gives the CPU per request of Redis (from /proc, when it
  runs on this machine) and of wrk, and Redis commands per request (INFO commandstats): what
  the web processes' CPU leaves out.

Needs a Redis (REDIS_URL, default redis://127.0.0.1:6379/0); keys live under a unique prefix
and are deleted at the end. The database is a throwaway SQLite file.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import rediscost, wrk
from bench.baseline import free_port, wait_for_port
from bench.drop.procs import stop_all
from models.keys import Keys
from models.redis import scripts
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
REPEAT_FANS = 1_000


def fill(redis, keys: Keys, secret: bytes, event_id: str, users: range, now_ms: int, on_sale_ms: int) -> None:
    """Join ``user-<i>`` for every i in ``users`` through room_join.lua, pipelined."""
    script = scripts(redis).get("room_join")
    redis.script_load(script.script)  # so the pipelines can EVALSHA it
    redis.hsetnx(keys.room(event_id), "live", now_ms)  # a new room, as the first join through the web opens it
    expire_at = now_ms + 7 * 86_400_000
    call = store.JoinCall(keys, event_id)
    for start in range(users.start, users.stop, FILL_CHUNK):
        pipe = redis.pipeline(transaction=False)
        for i in range(start, min(start + FILL_CHUNK, users.stop)):
            token = tokens.issue(secret, event_id, f"user-{i}")
            call_keys, args = call(token, now_ms, on_sale_ms, expire_at)
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


def web_env(settings: Settings, database_url: str, port: int, *, rate_limits: bool = False,
            trust_forwarded_for: bool = False) -> dict:
    """The environment of a bench web process. One client address sends everything, so real
    limits would refuse it: they are off, or with ``rate_limits`` so high that every join is
    checked (and counted) but none refused."""
    limit = str(10**7) if rate_limits else "0"
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "REDIS_URL": settings.redis_url,
           "REDIS_PREFIX": settings.redis_prefix, "DATABASE_URL": database_url, "BROKER_URL": "stub://",
           "SECRET_KEY": settings.secret_key, "ADMIN_TOKEN": settings.admin_token, "PYTHONPATH": str(ROOT),
           "RATE_JOIN_PER_MIN": limit, "RATE_RESERVE_PER_MIN": limit, "RATE_CHECKOUT_PER_MIN": limit,
           "RATE_PER_IP_PER_MIN": limit, "RATE_UNKNOWN_EVENT_PER_MIN": limit, "REUSE_PORT": "1",
           "TRUST_FORWARDED_FOR": "true" if trust_forwarded_for else "false"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def start_web(settings: Settings, database_url: str, log_path: Path, *, processes: int = 1, rate_limits: bool = False,
              port: int | None = None, trust_forwarded_for: bool = False) -> tuple[list[subprocess.Popen], int]:
    """``processes`` web processes (``python -m web``) sharing one free port (SO_REUSEPORT)."""
    port = port or free_port()
    env = web_env(settings, database_url, port, rate_limits=rate_limits, trust_forwarded_for=trust_forwarded_for)
    procs = []
    for _ in range(processes):
        with open(log_path, "ab") as out:
            procs.append(subprocess.Popen([sys.executable, "-m", "web"], env=env, cwd=ROOT, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True))
    for proc in procs:
        wait_for_port(port, 20.0, proc)
    time.sleep(0.5 * processes)  # every process bound, not just the first
    return procs, port


def start_baseline(log_path: Path, processes: int = 1) -> tuple[list[subprocess.Popen], int]:
    """The trivial aiohttp JSON handler of bench/baseline.py, in ``processes`` processes on one port."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [_spawn([sys.executable, "-m", "bench.baseline", "serve", str(port), "--reuse-port"], env, log_path, port)
             for _ in range(processes)]
    time.sleep(0.5 * processes)
    return procs, port


def http_paths(event_id: str, size: int, secret: bytes, duration_s: float, rounds: int) -> tuple[list[list[str]], list[str]]:
    """Status URLs: a list of fresh fans for each round's first polls (no fan polls twice in the
    whole run: enough for up to 60k polls/s), and the REPEAT_FANS fans of the repeat polls."""
    prefix = f"/events/{event_id}/waiting-room"
    per_round = max(1, min((size - REPEAT_FANS) // rounds, int(60_000 * duration_s)))
    picked = random.Random(size).sample(range(size), per_round * rounds + REPEAT_FANS)
    def url(i: int) -> str:
        return f"{prefix}/status?token={tokens.issue(secret, event_id, f'user-{i}').text}"
    repeat = [url(i) for i in picked[:REPEAT_FANS]]
    fresh = picked[REPEAT_FANS:]
    return [[url(i) for i in fresh[r * per_round:(r + 1) * per_round]] for r in range(rounds)], repeat


def route_runs(procs: list[subprocess.Popen], port: int, event_id: str, first: list[str], repeat: list[str],
               duration_s: float, connections: int, profile: Path | None = None,
               redis: rediscost.RedisCost | None = None) -> dict[str, Callable[[], dict]]:
    """The routes a round measures, in order, each a function that loads it with wrk once and
    returns its figures: first polls (every request a fan this process has not seen: the Redis
    path, until the list wraps: from then its polls are repeat polls, which the ``note`` counts;
    at 100k fans and 5 rounds the list holds 19,800 fans against some 100,000 polls in 5 s, so an
    unwrapped first poll needs the 1M queue), repeat polls (REPEAT_FANS fans polling in turn: the
    steady state, warmed up by the caller), joins (a new user each) and progress polls (the
    room's one document, as every waiting fan's browser polls it). ``redis``: the Redis the web
    processes use, for its CPU and commands per request.
    ``profile``: a py-spy profile of each measurement, ``<profile>-<name>-<pid>.txt``."""
    base = f"http://127.0.0.1:{port}"
    pids = [p.pid for p in procs]

    def spy(name: str) -> Path | None:
        return None if profile is None else profile.with_name(f"{profile.name}-{name}")

    def first_polls() -> dict:
        out = wrk.run(base, first, pids, duration_s=duration_s, connections=connections, profile=spy("first"),
                      redis=redis).as_dict()
        if out["requests"] > len(first):
            out["note"] = (f"wrapped: {len(first)} fresh fans for {out['requests']} polls, so "
                           f"{1 - len(first) / out['requests']:.0%} of them were repeat polls")
        return out

    def repeat_polls() -> dict:
        return wrk.run(base, repeat, pids, duration_s=duration_s, connections=connections, profile=spy("repeat"),
                       redis=redis).as_dict()

    def joins() -> dict:
        return wrk.run(base, [f"/events/{event_id}/waiting-room/join"], pids, duration_s=duration_s,
                       connections=connections, method="POST", user_id_prefix=f"join-{uuid.uuid4().hex[:6]}-",
                       profile=spy("join"), redis=redis).as_dict()

    def progress_polls() -> dict:
        return wrk.run(base, [f"/events/{event_id}/waiting-room/progress"], pids, duration_s=duration_s,
                       connections=connections, profile=spy("progress"), redis=redis).as_dict()

    # The progress poll last: the routes measured before it keep their places in a round.
    return {"status_first_poll": first_polls, "status_repeat_poll": repeat_polls, "join": joins,
            "progress_poll": progress_polls}


#: ``--routes`` names -> the route_runs entries they measure.
ROUTE_NAMES = {"first": "status_first_poll", "repeat": "status_repeat_poll", "join": "join",
               "progress": "progress_poll"}


def chosen_routes(runs: dict[str, Callable[[], dict]], names: list[str]) -> dict[str, Callable[[], dict]]:
    """The entries of ``runs`` (route_runs) that ``names`` (``--routes``) name, in the order
    route_runs measures them."""
    wanted = {ROUTE_NAMES[name] for name in names}
    return {key: run for key, run in runs.items() if key in wanted}


def baseline_figures(procs: list[subprocess.Popen], port: int, duration_s: float, connections: int,
                     profile: Path | None = None) -> dict:
    """wrk figures for the trivial handler; ``profile``: its py-spy profile, ``<profile>-baseline-<pid>.txt``
    (what aiohttp itself costs, to set beside the routes' profiles). Its Redis figures are 0 by
    construction (it never calls Redis), not measured: Redis's CPU meanwhile would be others'."""
    pids = [p.pid for p in procs]
    spy = None if profile is None else profile.with_name(f"{profile.name}-baseline")
    return {**wrk.run(f"http://127.0.0.1:{port}", ["/"], pids, duration_s=duration_s, connections=connections,
                      profile=spy).as_dict(), **BASELINE_REDIS}


def yardstick_runs(procs: list[subprocess.Popen], port: int, duration_s: float, connections: int,
                   profile: Path | None = None) -> Callable[[], dict]:
    """The yardstick as a round measures it, again and again: baseline_figures, the first
    measurement profiled into ``profile`` (one profile of the trivial handler is enough)."""
    profiles = iter([profile])
    return lambda: baseline_figures(procs, port, duration_s, connections, next(profiles, None))


#: The trivial handler's Redis figures: 0 by construction.
BASELINE_REDIS = {"redis_cpu_us_per_request": 0.0, "redis_commands_per_request": 0.0}


def measure_round(yardstick: Callable[[], dict], routes: dict[str, Callable[[], dict]],
                  before: dict | None = None) -> tuple[list[dict], dict]:
    """One round: the yardstick, then each route followed by the yardstick again. ``before``:
    the yardstick that ended the previous round, measured just now, which opens this one (it
    brackets that round's last route and this round's first; measuring it again would add time
    and no bracket). Returns the yardstick's figures (one more than the routes, in the order
    measured, ``before`` first when given) and each route's."""
    yardsticks, figures = [yardstick() if before is None else before], {}
    for name, measure in routes.items():
        figures[name] = measure()
        yardsticks.append(yardstick())
    return yardsticks, figures


def geometric_mean(a: float, b: float) -> float:
    """sqrt(a * b): where a steady drift of the machine's speed by a constant factor per second
    passes halfway between a and b; and the reciprocal of the geometric mean of two costs is the
    geometric mean of the two rates, so a cost ratio and a rate ratio agree."""
    return math.sqrt(a * b)


def bracketed_ratios(yardsticks: list[dict], figures: dict) -> dict:
    """Each route's ratios to the yardstick measured right before and right after it (the
    geometric mean of the two): requests per second under wrk (what the issue targets) and
    server CPU per request, the yardstick's over the route's (capacity, steadier on a shared
    box). ``figures``: the routes in the order measured; ``yardsticks``: one more, route i
    between yardsticks i and i + 1."""
    if len(yardsticks) != len(figures) + 1:
        raise ValueError(f"{len(figures)} routes need {len(figures) + 1} yardsticks around them, not {len(yardsticks)}")
    out = {}
    for (name, m), before, after in zip(figures.items(), yardsticks[:-1], yardsticks[1:], strict=True):
        rps = geometric_mean(before["rps"], after["rps"])
        cpu = geometric_mean(before["server_cpu_us_per_request"], after["server_cpu_us_per_request"])
        out[f"{name}_rps_ratio"] = round(m["rps"] / rps, 2)
        out[f"{name}_cpu_ratio"] = round(cpu / max(0.1, m["server_cpu_us_per_request"]), 2)
    return out


def _median(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 2) if known else None


def cost_lines(measurements: dict[str, list[dict]]) -> list[str]:
    """One line per route (the trivial handler first): the medians over its measurements of web,
    Redis and wrk CPU per request and of Redis commands per request. ``measurements``: each
    route's figures as route_runs and baseline_figures give them, ``"baseline"`` every
    yardstick of the run."""
    def med(route: str, key: str) -> str:
        value = _median([m.get(key) for m in measurements[route]])
        return "null" if value is None else f"{value:g}"

    lines = []
    for route, runs in measurements.items():
        trivial = route == "baseline"
        redis = "0 (by construction)" if trivial else med(route, "redis_cpu_us_per_request")
        commands = "0" if trivial else med(route, "redis_commands_per_request")
        lines.append(f"{route}: web {med(route, 'server_cpu_us_per_request')} / Redis {redis} / "
                     f"wrk {med(route, 'wrk_cpu_us_per_request')} µs per request, {commands} Redis commands per "
                     f"request (median of {len(runs)})")
    return lines


def summary(rounds: list[dict]) -> dict:
    """Each ratio's median over the rounds, with its lowest and highest: what is left of the
    machine's drift after each round bracketed every route with the yardstick."""
    return {name: {"median": round(statistics.median(r[name] for r in rounds), 2),
                   "min": min(r[name] for r in rounds), "max": max(r[name] for r in rounds)}
            for name in rounds[0]}


def yardstick_spread(yardsticks: list[dict]) -> dict:
    """How much the yardstick itself moved in the run, so a reader sees how noisy the machine
    was. ``yardsticks``: every measurement of the run in order, each once (a route between each
    two). Gives its req/s and web CPU per request (lowest, median, highest) and the widest
    bracket, the larger over the smaller req/s of the two yardsticks around one route (1.0:
    the machine held still across every route)."""
    def spread(key: str) -> dict:
        values = [y[key] for y in yardsticks]
        return {"min": min(values), "median": round(statistics.median(values), 1), "max": max(values)}

    steps = [max(a["rps"], b["rps"]) / max(1, min(a["rps"], b["rps"])) for a, b in itertools.pairwise(yardsticks)]
    return {"measurements": len(yardsticks), "rps": spread("rps"),
            "server_cpu_us_per_request": spread("server_cpu_us_per_request"),
            "widest_bracket": round(max(steps), 2) if steps else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.waiting_room", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000", help="waiting fans per queue, comma-separated")
    parser.add_argument("--http-min", type=int, default=100_000, help="load HTTP for queues at least this big")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk measurement")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (2 threads)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of (yardstick, first polls, yardstick, repeat polls, yardstick, joins, "
                             "yardstick, progress polls, yardstick) per process count, a round's last yardstick the next one's first; "
                             "the summary gives each ratio's median over them")
    parser.add_argument("--routes", default="first,repeat,join,progress",
                        help="routes each round measures, comma-separated (first, repeat, join, progress): fewer routes, "
                             "a shorter run; each is still bracketed by the yardstick")
    parser.add_argument("--processes", default="1,2", help="web process counts to measure, comma-separated")
    parser.add_argument("--ticks", type=int, default=20, help="wave ticks timed per queue")
    parser.add_argument("--rate-limits", action=argparse.BooleanOptionalAction, default=True,
                        help="run the web processes with their rate limiter on, as in production, with limits too "
                             "high to refuse one client address (default); --no-rate-limits turns it off")
    parser.add_argument("--profile", metavar="DIR", type=Path,
                        help="py-spy each measurement into DIR (read with python -m bench.spytop); costs the server CPU")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    counts = [int(n) for n in args.processes.split(",") if n]
    routes = [r for r in args.routes.split(",") if r]
    unknown = sorted(set(routes) - set(ROUTE_NAMES))
    if unknown or not routes:
        parser.error(f"--routes takes some of {', '.join(ROUTE_NAMES)}, not {args.routes!r}")
    print(f"command: python -m bench.waiting_room {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"wrk: {wrk.command_line(2, args.connections, args.duration)}")
    print(f"rate limiter: {'on (limits too high to refuse)' if args.rate_limits else 'off'}")
    print(f"load before: {wrk.load_average()}", flush=True)
    with wrk.deployment("wr") as run:
        settings, redis, keys = run.settings, run.redis, run.keys
        redis_cost = rediscost.RedisCost.of(redis)
        print(redis_cost.describe())
        print("trivial handler: Redis CPU and commands per request are 0 by construction (it never calls Redis), "
              "not measured", flush=True)
        queues = []
        for size in sizes:
            queues.append(build_queue(redis, keys, settings, size, args.ticks))
            print({k: v for k, v in queues[-1].items() if k != "event_id"}, flush=True)
        loaded = [q for q in queues if q["size"] >= args.http_min]
        if loaded and wrk.available() is None:
            print(f"SKIPPED the HTTP measurements: {wrk.install_hint()}", flush=True)
            loaded = []
        for processes in counts if loaded else []:
            servers: list[subprocess.Popen] = []
            try:
                baseline, base_port = start_baseline(run.workdir / "baseline.log", processes)
                servers += baseline
                web, port = start_web(settings, run.database_url, run.workdir / "web.log", processes=processes,
                                      rate_limits=args.rate_limits)
                servers += web
                for q in loaded:
                    first_rounds, repeat = http_paths(q["event_id"], q["size"], settings.secret_bytes, args.duration,
                                                      args.rounds)
                    # Warm-up: both servers' connections and caches, and every repeat fan's first poll.
                    wrk.run(f"http://127.0.0.1:{base_port}", ["/"], [p.pid for p in baseline], duration_s=1.0,
                            connections=args.connections)
                    if "repeat" in routes:
                        wrk.run(f"http://127.0.0.1:{port}", repeat, [p.pid for p in web], duration_s=3.0,
                                connections=args.connections)
                    ratios: list[dict] = []
                    yardsticks: list[dict] = []  # the run's, in order: a round's last opens the next
                    measurements: dict[str, list[dict]] = {"baseline": yardsticks}
                    for r, first in enumerate(first_rounds):
                        profile = None
                        if args.profile is not None and r == 0:
                            args.profile.mkdir(parents=True, exist_ok=True)
                            profile = args.profile / f"{q['size']}-{processes}p"
                        ys, fig = measure_round(
                            yardstick_runs(baseline, base_port, args.duration, args.connections, profile),
                            chosen_routes(route_runs(web, port, q["event_id"], first, repeat, args.duration,
                                                     args.connections, profile, redis_cost), routes),
                            yardsticks[-1] if yardsticks else None)
                        ratios.append(bracketed_ratios(ys, fig))
                        yardsticks += ys[1:] if yardsticks else ys
                        for name, m in fig.items():
                            measurements.setdefault(name, []).append(m)
                        where = {"size": q["size"], "processes": processes, "round": r + 1}
                        print({**where, "baseline": ys, **fig}, flush=True)
                        print({**where, "yardstick_rps": [y["rps"] for y in ys], **ratios[-1]}, flush=True)
                    print({"size": q["size"], "processes": processes, "rounds": len(ratios), "ratios": summary(ratios),
                           "yardstick": yardstick_spread(yardsticks)}, flush=True)
                    for line in cost_lines(measurements):
                        print(f"  {q['size']} fans, {processes} process(es): {line}", flush=True)
            finally:
                stop_all(servers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
