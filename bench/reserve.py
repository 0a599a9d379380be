"""Reservation benchmark: one event's drop, every buyer admitted, reservations fired over HTTP.

    python -m bench.reserve                  # 5,000 tickets, 20,000 buyers: burst, 1,000/s paced, queued
    python -m bench.reserve --tickets 5000 --buyers 20000 --concurrency 200 --rate 1000 --rate-seconds 10

It starts the system the way operators run it (bench.drop.system: web processes sharing a port,
dramatiq workers, the scheduler; PostgreSQL, and a redis-server of its own), creates the event
through the admin API, joins every buyer through the waiting room and admits them all in one
wave (this measures reservations, not the waiting room), then runs three phases, each on a
fresh event:

- ``burst``: every buyer reserves at once (``--concurrency`` connections, closed loop); each
  request sends ``Prefer: wait=10`` and ends with its outcome (201 held, 409 rejected; a 202 is
  polled until decided): latency is request -> outcome, so HTTP bounds this rate;
- ``paced``: the same, ``--rate`` requests per second offered for ``--rate-seconds`` (open loop);
- ``queued``: every buyer's request is accepted over HTTP (202) while the bench holds the
  event's drain lease, as when a burst arrives faster than it can be decided; then the lease is
  let go and the phase times the workers deciding the whole queue (outcomes/s of the engine).

Afterwards the database and Redis are checked for oversell. Prints a table and writes JSON to
``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bench.loadgen import Latencies, make_session, open_loop, run_load

#: Seconds a reservation request asks the server to wait for its decision.
PREFER_WAIT_S = 10
#: Pause between polls of a reservation still pending after its wait, in seconds.
POLL_S = 0.05


@dataclass
class Phase:
    name: str
    offered: int
    samples: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, outcome)

    def report(self, capacity: int, check: dict) -> dict:
        outcomes: dict[str, int] = {}
        latencies = Latencies()
        for start, end, outcome in self.samples:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            latencies.add((end - start) * 1000)
        decided = [s for s in self.samples if s[2] == "held" or s[2].startswith("rejected")]
        t0 = min(s[0] for s in self.samples)
        span = max(s[1] for s in decided) - t0 if decided else 0.0
        held_at = sorted(s[1] for s in self.samples if s[2] == "held")
        lat = latencies.summary()
        return {
            "phase": self.name, "requests": self.offered, "outcomes": outcomes,
            "outcomes_per_s": round(len(decided) / span, 1) if span else 0.0,
            "p50_ms": round(lat["p50"], 1), "p99_ms": round(lat["p99"], 1), "max_ms": round(lat["max"], 1),
            "sold_out_after_s": round(held_at[-1] - t0, 3) if held_at and check["sold"] + check["held"] >= capacity else None,
            "elapsed_s": round(span, 3), **check,
        }


class Bench:
    def __init__(self, system, session: aiohttp.ClientSession) -> None:
        self.system = system
        self.session = session
        self.base = system.base_url
        self.admin = {"Authorization": f"Bearer {system.admin_token}"}

    async def _admin(self, method: str, path: str, body: dict) -> dict:
        async with self.session.request(method, self.base + path, json=body, headers=self.admin) as resp:
            data = await resp.json()
            if resp.status not in (200, 201):
                raise RuntimeError(f"{method} {path}: {resp.status} {data}")
            return data

    async def event(self, name: str, tickets: int, per_user_limit: int) -> tuple[str, str]:
        """An event whose sale opened a moment ago, with one tier of ``tickets``."""
        now = datetime.now(UTC)
        opens = now + timedelta(seconds=1.5)
        event = await self._admin("POST", "/admin/events", {
            "name": name, "venue": "Bench Arena", "status": "scheduled", "wave_size": 1000, "wave_interval_s": 1.0,
            "starts_at": (now + timedelta(days=30)).isoformat(), "on_sale_at": opens.isoformat()})
        tier = await self._admin("POST", "/admin/tiers", {"event_id": event["id"], "name": "GA", "price_cents": 5_000,
                                                          "capacity": tickets, "per_user_limit": per_user_limit})
        await asyncio.sleep((opens - datetime.now(UTC)).total_seconds() + 0.1)
        await self._admin("PATCH", f"/admin/events/{event['id']}", {"status": "on_sale"})
        await asyncio.sleep(1.5)  # the scheduler's first tick after on-sale draws the (empty) pre-queue
        return event["id"], tier["id"]

    async def admitted_buyers(self, event_id: str, count: int, tag: str) -> list[tuple[str, str]]:
        """Join ``count`` buyers, then admit them all in one wave. Returns [(user, token)]."""
        users = [f"{tag}-{i}-{uuid.uuid4().hex[:6]}" for i in range(count)]
        tokens: list[str] = [""] * count

        async def join(session, i: int) -> int:
            async with session.post(f"{self.base}/events/{event_id}/waiting-room/join",
                                    headers={"X-User-Id": users[i]}) as resp:
                tokens[i] = (await resp.json()).get("token", "")
                return resp.status

        result = await run_load(join, 128, total=count, session=self.session)
        if result.errors or not all(tokens):
            raise RuntimeError(f"joins failed: {result.as_dict()}")
        await asyncio.to_thread(admit_everyone, self.system, event_id, count)
        return list(zip(users, tokens, strict=True))

    async def reserve(self, event_id: str, tier_id: str, user: str, token: str, quantity: int, *,
                      wait: bool = True) -> tuple[float, float, str]:
        start = time.perf_counter()
        headers = {"X-User-Id": user, **({"Prefer": f"wait={PREFER_WAIT_S}"} if wait else {})}
        try:
            async with self.session.post(f"{self.base}/events/{event_id}/reservations", headers=headers,
                                         json={"tier_id": tier_id, "quantity": quantity, "token": token}) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
            if not wait:
                return start, time.perf_counter(), "accepted" if status == 202 else f"error:{status}"
            while status == 202:
                await asyncio.sleep(POLL_S)
                async with self.session.get(f"{self.base}/reservations/{body['id']}", headers=headers) as resp:
                    body = await resp.json(content_type=None)
                    status = 201 if body.get("status") == "held" else 409 if body.get("status") == "rejected" else 202
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return start, time.perf_counter(), f"error:{type(exc).__name__}"
        end = time.perf_counter()
        if status == 201:
            return start, end, "held"
        if status == 409 and (body.get("reason") or body.get("code")):
            return start, end, f"rejected:{body.get('reason') or body.get('code')}"
        return start, end, f"error:{status}"

    async def burst(self, event_id: str, tier_id: str, buyers: list[tuple[str, str]], concurrency: int, quantity: int) -> Phase:
        phase = Phase("burst", len(buyers))
        queue = iter(buyers)

        async def fan() -> None:
            for user, token in queue:
                phase.samples.append(await self.reserve(event_id, tier_id, user, token, quantity))

        await asyncio.gather(*(fan() for _ in range(concurrency)))
        return phase

    async def paced(self, event_id: str, tier_id: str, buyers: list[tuple[str, str]], rate: float, quantity: int) -> Phase:
        phase = Phase("paced", len(buyers))
        phase.samples.extend(await open_loop(buyers, rate, lambda b: self.reserve(event_id, tier_id, *b, quantity)))
        return phase

    async def queued(self, event_id: str, tier_id: str, buyers: list[tuple[str, str]], concurrency: int,
                     quantity: int, tickets: int) -> dict:
        """Queue every request behind a lease the bench holds, then time the workers deciding them."""
        lease = await asyncio.to_thread(hold_lease, self.system, event_id, True)
        accepted = Phase("queued", len(buyers) - 1)
        queue = iter(buyers[:-1])

        async def fan() -> None:
            for user, token in queue:
                accepted.samples.append(await self.reserve(event_id, tier_id, user, token, quantity, wait=False))

        started = time.perf_counter()
        await asyncio.gather(*(fan() for _ in range(concurrency)))
        ingest = time.perf_counter() - started
        errors = sum(1 for s in accepted.samples if s[2] != "accepted")
        await asyncio.to_thread(hold_lease, self.system, event_id, False, lease)
        released = time.perf_counter()
        # A new request sends the drain message; it is last in line, so do not wait for it.
        last = await self.reserve(event_id, tier_id, *buyers[-1], quantity, wait=False)
        queued = len(accepted.samples) - errors + (last[2] == "accepted")
        decided, sold_out, done = await asyncio.to_thread(wait_decided, event_id, tier_id, queued, tickets)
        elapsed = decided - released
        return {"phase": "queued", "requests": queued, "accepted_per_s": round((len(buyers) - 1) / ingest, 1),
                "outcomes_per_s": round(queued / elapsed, 1), "elapsed_s": round(elapsed, 3),
                "sold_out_after_s": round(sold_out - released, 3) if sold_out else None,
                "errors": errors + (last[2].startswith("error")), "undecided": queued - done}


def admit_everyone(system, event_id: str, count: int) -> None:
    """Admit positions 1..count in one wave (WR's compare-and-set script, retried if a tick moved it)."""
    from models.keys import Keys
    from models.redis import connect_sync, scripts

    redis, keys = connect_sync(system.redis_url), Keys(system.prefix)
    try:
        while True:
            up_to = int(redis.hget(keys.room(event_id), "up_to") or 0)
            if up_to >= count:
                return
            now = int(time.time() * 1000)
            scripts(redis).get("room_admit")(keys=[keys.room(event_id), keys.room_waves(event_id)],
                                             args=[up_to, count, now, now + 3_600_000, count - up_to, now + 86_400_000])
    finally:
        redis.close()


def hold_lease(system, event_id: str, hold: bool, token: str = "") -> str:
    """Take (hold=True) or give back the event's drain lease, as if a drainer held it; also
    clears the drain flag when giving it back, so the next request sends a fresh message."""
    from models.keys import Keys
    from models.redis import connect_sync

    redis, keys = connect_sync(system.redis_url), Keys(system.prefix)
    try:
        if hold:
            token = f"bench-{uuid.uuid4().hex}"
            if not redis.set(keys.event_lease(event_id), token, nx=True, px=600_000):
                raise RuntimeError("the event's lease is taken")
            return token
        if redis.get(keys.event_lease(event_id)) == token:
            redis.delete(keys.event_lease(event_id), keys.drain_flag(event_id))
        return token
    finally:
        redis.close()


def wait_decided(event_id: str, tier_id: str, count: int, tickets: int,
                 timeout_s: float = 120) -> tuple[float, float | None, int]:
    """Poll the database until ``count`` reservations of the event are decided (or the timeout).
    Returns (perf_counter instant of the last decision seen, of the tier's sell-out or None,
    how many were decided)."""
    from peewee import fn

    from models.tables import Reservation, TicketTier

    deadline = time.perf_counter() + timeout_s
    sold_out, done, last_change, seen = None, 0, time.perf_counter(), -1
    while time.perf_counter() < deadline:
        done = Reservation.select(fn.COUNT(Reservation.id)).where(Reservation.event == event_id).scalar()
        now = time.perf_counter()
        if done != seen:
            seen, last_change = done, now
        if sold_out is None:
            tier = TicketTier.get_by_id(tier_id)
            if tier.sold + tier.held >= tickets:
                sold_out = now
        if done >= count:
            break
        time.sleep(0.01)
    return last_change, sold_out, done


def check(system, event_id: str, tier_id: str) -> dict:
    """Oversell and agreement, read from the database and Redis after the phase settled."""
    from peewee import fn

    from models.keys import Keys
    from models.redis import connect_sync
    from models.tables import Reservation, TicketTier

    tier = TicketTier.get_by_id(tier_id)
    held_rows = (Reservation.select(fn.COALESCE(fn.SUM(Reservation.quantity), 0))
                 .where(Reservation.tier == tier_id, Reservation.status == "held").scalar())
    redis = connect_sync(system.redis_url)
    try:
        available = int(redis.hget(Keys(system.prefix).stock(event_id), tier_id) or 0)
    finally:
        redis.close()
    return {"capacity": tier.capacity, "sold": tier.sold, "held": tier.held, "held_rows": int(held_rows),
            "redis_available": available,
            "oversell": max(0, tier.sold + tier.held - tier.capacity, int(held_rows) - tier.capacity, -available)}


async def run(args: argparse.Namespace) -> dict:
    from bench.drop.system import System, SystemOptions
    from models.db import bind_database, open_database

    run_dir = Path(args.out).parent / f"reserve-{int(time.time())}"
    load_before = os.getloadavg()[0]
    system = System(SystemOptions(run_dir=run_dir, run_id=uuid.uuid4().hex[:12], web_processes=args.web_processes,
                                  worker_processes=args.worker_processes, worker_threads=args.worker_threads,
                                  postgres_url=args.postgres, redis_url=args.redis_url,
                                  settings_env={"HOLD_TTL_S": "900", "LOG_LEVEL": args.log_level,
                                                "dramatiq_worker_timeout": str(args.worker_timeout_ms),
                                                **({"RESERVE_BATCH_SIZE": str(args.batch_size)} if args.batch_size else {})}))
    system.start()
    try:
        bind_database(open_database(system.env["DATABASE_URL"], max_connections=4))
        async with make_session(max(args.concurrency, 1024), timeout_s=60) as session:
            bench = Bench(system, session)
            phases = []
            event_id, tier_id = await bench.event("Burst drop", args.tickets, args.per_user_limit)
            buyers = await bench.admitted_buyers(event_id, args.buyers, "burst")
            phase = await bench.burst(event_id, tier_id, buyers, args.concurrency, args.quantity)
            phases.append(phase.report(args.tickets, check(system, event_id, tier_id)))
            if args.rate > 0:
                event_id, tier_id = await bench.event("Paced drop", args.tickets, args.per_user_limit)
                buyers = await bench.admitted_buyers(event_id, int(args.rate * args.rate_seconds), "paced")
                phase = await bench.paced(event_id, tier_id, buyers, args.rate, args.quantity)
                report = phase.report(args.tickets, check(system, event_id, tier_id))
                report["offered_per_s"] = args.rate
                phases.append(report)
            if args.queued:
                event_id, tier_id = await bench.event("Queued drop", args.tickets, args.per_user_limit)
                buyers = await bench.admitted_buyers(event_id, args.buyers + 1, "queued")
                report = await bench.queued(event_id, tier_id, buyers, args.concurrency, args.quantity, args.tickets)
                report.update(check(system, event_id, tier_id))
                phases.append(report)
    finally:
        system.stop()
    # The machine's 1-minute load before and after: other work on these 2 cores skews every figure.
    return {"command": " ".join(["python -m bench.reserve", *sys.argv[1:]]), "cpus": os.cpu_count(),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
            "web_processes": args.web_processes, "worker_processes": args.worker_processes,
            "worker_threads": args.worker_threads, "worker_timeout_ms": args.worker_timeout_ms,
            "batch_size": args.batch_size or 256, "tickets": args.tickets, "buyers": args.buyers,
            "quantity": args.quantity, "phases": phases}


def table(result: dict) -> str:
    rows = ["| phase | requests | outcomes/s | p50 ms | p99 ms | sold out after s | held | rejected | errors | oversell |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for p in result["phases"]:
        if p["phase"] == "queued":
            rows.append(f"| queued ({p['accepted_per_s']}/s accepted over HTTP, then decided) | {p['requests']} | "
                        f"{p['outcomes_per_s']} | - | - | {p['sold_out_after_s']} | {p['held_rows']} | "
                        f"{p['requests'] - p['held_rows'] // max(1, result['quantity'])} | "
                        f"{p['errors'] + p['undecided']} | {p['oversell']} |")
            continue
        rejected = sum(n for k, n in p["outcomes"].items() if k.startswith("rejected"))
        errors = sum(n for k, n in p["outcomes"].items() if k.startswith("error"))
        name = p["phase"] + (f" ({p['offered_per_s']:g}/s offered)" if "offered_per_s" in p else "")
        rows.append(f"| {name} | {p['requests']} | {p['outcomes_per_s']} | {p['p50_ms']} | {p['p99_ms']} | "
                    f"{p['sold_out_after_s']} | {p['outcomes'].get('held', 0)} | {rejected} | {errors} | {p['oversell']} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reserve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=5_000)
    parser.add_argument("--buyers", type=int, default=20_000)
    parser.add_argument("--quantity", type=int, default=1, help="tickets per reservation")
    parser.add_argument("--per-user-limit", type=int, default=4)
    # Under 256: a web process's Redis pool (models.redis.connect_async) refuses a 257th command.
    parser.add_argument("--concurrency", type=int, default=200, help="connections of the burst and queued phases")
    parser.add_argument("--rate", type=float, default=1_000, help="requests/s of the paced phase (0 = skip it)")
    parser.add_argument("--rate-seconds", type=float, default=10)
    parser.add_argument("--no-queued", dest="queued", action="store_false", help="skip the queued phase")
    parser.add_argument("--web-processes", type=int, default=2)
    parser.add_argument("--worker-processes", type=int, default=1)
    parser.add_argument("--worker-threads", type=int, default=8)
    parser.add_argument("--worker-timeout-ms", type=int, default=100,
                        help="dramatiq_worker_timeout: longest idle poll of a worker for new messages")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default=None, help="default: a redis-server of our own on a unix socket")
    parser.add_argument("--batch-size", type=int, default=0, help="RESERVE_BATCH_SIZE (0 = the default, 256)")
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the system's processes")
    parser.add_argument("--out", default="var/bench/reserve.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(run(args))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(table(result))
    print(f"\n{result['cpus']} CPUs (load {result['load_before']} before, {result['load_after']} after); "
          f"{result['web_processes']} web, {result['worker_processes']} worker processes x {result['worker_threads']} "
          f"threads; JSON in {args.out}")
    failed = any(p["oversell"] or p.get("errors") or p.get("undecided") or any(k.startswith("error") for k in p.get("outcomes", {}))
                 for p in result["phases"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
