"""Instructions per join of each part of the join's own code, counted by callgrind (issue 14).

    python -m bench.joinparts                                # the table (runs valgrind, ~1 min)
    python -m bench.joinparts --part token --count 20000     # one part's loop, as valgrind runs it

A part is one function called ``count`` times; its cost is the instructions of a run with
``count`` calls less those of a run with none (start-up and imports cancel out), so the figures
follow the code, not the machine's load, which moves wrk's figures by 10% between runs of the
same code. Redis is answered by a done future and the room view is pinned: what is counted is
this process's Python, C extensions and OpenSSL, nothing that waits.

Parts: ``none`` (the loop's own cost: a call that does nothing; every other part's figure
includes it), ``token`` (tokens.issue for a new user: two HMACs), ``packed`` (JoinCall.packed with the
two production limits), ``fields`` (an allowed join's RateLimit fields), ``answer`` (the
handler's answer as the edge step finishes it and aiohttp serializes its headers), ``join``
(RoomService.join, token and packing included) and ``all`` (join and answer: a join's own code
but for routing, the edge step and the Redis round trip).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import hdrs
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE
from aiohttp.http_writer import _serialize_headers

from models.catalog.snapshot import EventSnapshot
from models.keys import Keys
from models.ratelimit import Policy
from models.settings import Settings
from models.waiting_room import tokens
from models.waiting_room.room import RoomView
from models.waiting_room.service import JoinResult, RoomService
from models.waiting_room.store import RoomCounters
from web import caching, responses
from web.middleware import edge_headers

PARTS = ("none", "token", "packed", "fields", "answer", "join", "all")
#: Calls per measured run (a run of 0 calls is subtracted).
COUNT = 20_000
#: The script's reply to an allowed new join: created, position, pre, seq, then the two limits'.
_REPLY = [1, 123, 0, 123, 1, 0, 29, 2000, 599, 1000]
_EVENT = EventSnapshot(id="e29b26d7-bb1b-4bb8-ae81-1a586b796333", name="Drop", venue="Arena", status="on_sale",
                       on_sale_at=datetime(2026, 1, 1, tzinfo=UTC), starts_at=datetime(2027, 1, 1, tzinfo=UTC),
                       paused=False, wave_size=100, wave_interval_s=1.0)


class _Script:
    sha = "a" * 40


class _AnsweringBatcher:
    """A batcher whose Redis answers every join at once with ``_REPLY``."""

    packs = True

    def run_packed(self, _script: Any, _evalsha: bytes) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        future.set_result(_REPLY)
        return future


def _service() -> RoomService:
    settings = Settings.from_env({"SECRET_KEY": "k" * 64, "ADMIN_TOKEN": "a" * 64})
    service = RoomService(redis=None, keys=Keys(settings.redis_prefix), settings=settings, run_blocking=None,
                          batcher=_AnsweringBatcher())
    view = RoomView(counters=RoomCounters(live=True, live_since_ms=1_764_547_200_000))
    service.rooms.fresh = lambda _event_id: view  # pinned: no Redis read, whatever the clock
    service._committed.add(_EVENT.id)
    service._room_join = _Script()
    return service


def _answer(result: JoinResult) -> bytes:
    """The handler's answer, finished as the edge step and aiohttp's prepare() do, headers serialized."""
    response = responses.json(result.document(_EVENT), status=201 if result.created else 200,
                              headers=result.rate_fields)
    caching.private_headers(response.headers)
    edge_headers(response.headers, "0123456789abcdef0123456789abcdef", None, "POST")
    headers = response.headers
    headers[hdrs.CONTENT_LENGTH] = str(len(response.body))
    headers[hdrs.DATE] = rfc822_formatted_time()
    headers.setdefault(hdrs.SERVER, SERVER_SOFTWARE)
    return _serialize_headers("HTTP/1.1 201 Created", headers)


def part(name: str) -> Callable[[], Awaitable[Any]]:
    """The coroutine function one call of part ``name`` is (a new user each call)."""
    service = _service()
    policies = (Policy("join", 30), Policy("ip", 600))
    users = (f"join-{n}" for n in itertools.count())
    secret = service._settings.secret_bytes
    token = tokens.issue(secret, _EVENT.id, "someone")
    call = service._join_call(_EVENT.id)
    result = JoinResult(token.text, True, 123, 123, "sale_open", 1, (policies, _REPLY[4:]))

    def limits() -> list[tuple[Policy, str]]:
        return [(policies[0], next(users)), (policies[1], "127.0.0.1")]

    async def join() -> JoinResult:
        return await service.join(_EVENT, next(users), limits=limits())

    async def run(name: str) -> Any:
        if name == "none":
            return None
        if name == "token":
            return tokens.issue(secret, _EVENT.id, next(users))
        if name == "packed":
            return call.packed(_Script.sha, token, 1_764_547_200_000, 1_764_547_100_000, 1_764_633_600_000, limits())
        if name == "fields":
            return result.rate_fields
        if name == "answer":
            return _answer(result)
        if name == "join":
            return await join()
        return _answer(await join())

    if name not in PARTS:
        raise ValueError(f"no part {name!r}: one of {', '.join(PARTS)}")
    return lambda: run(name)


async def loop(name: str, count: int) -> None:
    """Call part ``name`` ``count`` times (what valgrind runs)."""
    one = part(name)
    for _ in range(count):
        await one()


def instructions(callgrind_out: str) -> int:
    """The total instruction count of a callgrind output file's text."""
    found = re.search(r"^(?:summary|totals): (\d+)", callgrind_out, re.MULTILINE)
    if found is None:
        raise ValueError("no summary line in the callgrind output")
    return int(found.group(1))


def measure(name: str, count: int = COUNT) -> float:
    """Instructions per call of part ``name``, under callgrind (``count`` calls less none)."""
    totals = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (0, count):
            out = os.path.join(tmp, f"callgrind.{n}")
            subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
                            "-m", "bench.joinparts", "--part", name, "--count", str(n)],
                           check=True, capture_output=True)
            with open(out) as f:
                totals.append(instructions(f.read()))
    return (totals[1] - totals[0]) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.joinparts")
    parser.add_argument("--part", choices=PARTS, help="run this part's loop once (no valgrind)")
    parser.add_argument("--count", type=int, default=COUNT, help=f"calls per run (default {COUNT})")
    args = parser.parse_args(argv)
    if args.part is not None:
        asyncio.run(loop(args.part, args.count))
        return 0
    print("| part of a join | instructions per call |\n|---|---|")
    for name in PARTS:
        print(f"| {name} | {measure(name, args.count):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
