"""Purchase funnel benchmark: reserve -> checkout session -> confirm, end to end, CPU per paid order.

    python -m bench.purchase                        # closed loop (200 clients) + paced (300/s offered)
    python -m bench.purchase --clients 200 --duration 20 --rate 300 --rate-seconds 10 --web 1 --workers 1 --threads 8

It starts the system as the Procfile runs it (bench.drop.system: web processes sharing a port,
dramatiq worker processes, the scheduler) on a fresh PostgreSQL database and a redis-server of
its own (which also carries the broker), both removed at the end. Per phase it creates an event
with one tier, joins every fan through the waiting room before on-sale and lets the scheduler's
first wave admit them all, then runs the purchases:

- ``closed``: ``--clients`` concurrent clients, each buying for the next fan until the tickets
  run out or ``--duration`` ends (purchases in flight then finish);
- ``paced``: a new purchase every ``1/--rate`` s for ``--rate-seconds`` (open loop: the offered
  rate does not slow down when the system does).

One purchase = POST the reservation for 1-2 tickets with ``Prefer: wait`` (a 202 is polled until
decided) -> POST /checkout/sessions with an Idempotency-Key -> POST /checkout/confirm
(simulated success) with ``Prefer: wait`` (a 202 is polled until paid). The answer to confirm
ends the purchase; tickets are issued after it and the window waits for them.

Reported per phase, for the measured window (first purchase to every paid order's tickets
issued): paid orders/s; CPU ms per paid order by process from /proc (web, worker, scheduler,
PostgreSQL backends of the run's database, Redis, the load generator itself); SQL statements per
paid order (counted at the driver in every process, see models/sqlcount.py: this PostgreSQL has
no pg_stat_statements loaded) and the server's transaction count; Redis commands per paid order
(INFO commandstats); p50/p99 per step; and what the system spends per second when idle (measured
for 3 s before the window; it is inside every window too). At the end the database is checked
(bench.purchasecheck). Exit status 1 on any violation or any answer outside the API's contract;
purchases the client gave up on (no answer in 60 s, as when the paced phase overloads the box)
are counted as "timed out" and do not fail the run; 2 when the run could not happen.

The load generator is one asyncio + aiohttp process. That is fine here because the figures are
CPU per unit of work by process (its own CPU is reported as a line of its own), not request
rates against a baseline (those need wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shlex
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson

from bench import proccpu, purchasecheck, workcount
from bench.drop.client import Api, Recorder
from bench.drop.event import TierSpec, create_event, open_sale
from bench.loadgen import Latencies, make_session, open_loop, run_load

log = logging.getLogger("bench.purchase")

#: ``Prefer: wait=N`` on reserve and confirm, in seconds (the API's maximum is 10).
PREFER_WAIT_S = 10
#: Pause between polls of a reservation or checkout still undecided after its wait, in seconds.
POLL_S = 0.05
#: Longest wait for every paid order's tickets after the load, in seconds.
SETTLE_TIMEOUT_S = 60.0
#: PostgreSQL backends flush their statistics at most once a second (and within a second of going
#: idle): pg_stat_database is read this long after the system went quiet, in seconds.
PG_STATS_FLUSH_S = 1.2
#: Attempts per fan to join the waiting room (503/429 are retried after Retry-After).
JOIN_ATTEMPTS = 5
#: Seconds of quiet before each window, to measure what the system costs doing nothing.
IDLE_S = 3.0
STEPS = ("reserve", "session", "confirm", "purchase")


@dataclass
class Outcomes:
    """What the purchases of one phase did: latencies per step (ms) and how each one ended."""

    steps: dict[str, Latencies] = field(default_factory=lambda: {s: Latencies() for s in STEPS})
    ended: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    first_start: float | None = None
    last_paid: float | None = None
    paid: int = 0
    sold_out: bool = False

    def end(self, how: str) -> None:
        self.ended[how] = self.ended.get(how, 0) + 1


class Buyer:
    """Runs purchases for admitted fans over one aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, event_id: str, tier_id: str, rng: random.Random) -> None:
        self.session = session
        self.base = base_url
        self.event_id = event_id
        self.tier_id = tier_id
        self.rng = rng

    async def _post(self, path: str, body: dict, headers: dict) -> tuple[int, dict]:
        async with self.session.post(self.base + path, data=orjson.dumps(body),
                                     headers={**headers, "Content-Type": "application/json"}) as resp:
            raw = await resp.read()
            return resp.status, (orjson.loads(raw) if raw else {})

    async def _get(self, path: str, headers: dict) -> tuple[int, dict]:
        async with self.session.get(self.base + path, headers=headers) as resp:
            raw = await resp.read()
            return resp.status, (orjson.loads(raw) if raw else {})

    async def purchase(self, user: str, token: str, out: Outcomes) -> None:
        """One fan's purchase; records its steps in ``out``. Never raises for the server's answers."""
        t0 = time.perf_counter()
        out.first_start = out.first_start or t0
        try:
            await self._purchase(user, token, out, t0)
        except TimeoutError:
            out.end("timed_out")  # no answer within the client's timeout: reported, not a contract breach
        except (aiohttp.ClientError, OSError, orjson.JSONDecodeError, KeyError) as exc:
            out.end("error")
            out.errors.append(f"{user}: {type(exc).__name__}: {exc}")

    async def _purchase(self, user: str, token: str, out: Outcomes, t0: float) -> None:
        who = {"X-User-Id": user}
        wait = {**who, "Prefer": f"wait={PREFER_WAIT_S}"}
        status, body = await self._post(f"/events/{self.event_id}/reservations",
                                        {"tier_id": self.tier_id, "quantity": self.rng.randint(1, 2), "token": token}, wait)
        while status == 202:
            await asyncio.sleep(POLL_S)
            status, body = await self._get(f"/reservations/{body['id']}", who)
            status = {"held": 201, "rejected": 409}.get(body.get("status"), 202 if body.get("status") == "pending" else status)
        t1 = time.perf_counter()
        if status == 409:
            reason = body.get("reason") or body.get("code") or "rejected"
            out.end(f"rejected:{reason}")
            if reason == "sold_out":
                out.sold_out = True
            return
        if status not in (200, 201) or body.get("status") != "held":
            return self._fail(out, "reserve", status, body)
        out.steps["reserve"].add((t1 - t0) * 1000)
        status, session = await self._post("/checkout/sessions", {"reservation_id": body["id"]},
                                           {**who, "Idempotency-Key": str(uuid.uuid4())})
        t2 = time.perf_counter()
        if status not in (200, 201):
            return self._fail(out, "session", status, session)
        out.steps["session"].add((t2 - t1) * 1000)
        status, paid = await self._post("/checkout/confirm", {"checkoutId": session["checkoutId"], "simulate": "success"}, wait)
        while status == 202:
            status, paid = await self._get(f"/checkout/sessions/{session['id']}", wait)
            if status == 200 and paid.get("status") not in ("paid", "failed", "expired"):
                status = 202
                await asyncio.sleep(POLL_S)
        t3 = time.perf_counter()
        if status != 200 or paid.get("status") != "paid":
            return self._fail(out, "confirm", status, paid)
        out.steps["confirm"].add((t3 - t2) * 1000)
        out.steps["purchase"].add((t3 - t0) * 1000)
        out.paid += 1
        out.last_paid = t3
        out.end("paid")

    @staticmethod
    def _fail(out: Outcomes, step: str, status: int, body: dict) -> None:
        out.end(f"failed:{step}:{status}")
        out.errors.append(f"{step} {status}: {str(body)[:300]}")


async def closed_loop(buyer: Buyer, fans: list[tuple[str, str]], clients: int, duration_s: float) -> Outcomes:
    """``clients`` concurrent buyers until the tickets run out, ``duration_s`` ends or fans run out."""
    out = Outcomes()
    queue = iter(fans)
    deadline = time.perf_counter() + duration_s

    async def client() -> None:
        for user, token in queue:
            if out.sold_out or time.perf_counter() >= deadline:
                return
            await buyer.purchase(user, token, out)

    await asyncio.gather(*(client() for _ in range(clients)))
    return out


async def paced(buyer: Buyer, fans: list[tuple[str, str]], rate: float) -> Outcomes:
    """One new purchase every ``1/rate`` s for every fan (open loop), then wait for them all."""
    out = Outcomes()
    await open_loop(fans, rate, lambda fan: buyer.purchase(*fan, out))
    return out


class Meter:
    """Reads every counter of the window: CPU by process group, SQL, transactions, Redis commands."""

    def __init__(self, system, admin_conn, redis_client, db_name: str) -> None:
        self.system = system
        self.conn = admin_conn
        self.redis = redis_client
        self.db_name = db_name
        self.metrics_dir = Path(system.env["PROMETHEUS_MULTIPROC_DIR"])
        self.roles: dict[int, str] = {}

    def _groups(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {"web": [], "worker": [], "scheduler": []}
        for svc in self.system.services:
            if svc.proc is not None:
                role = svc.name.split("-")[0]
                groups[role].append(svc.proc.pid)
                for pid in proccpu.descendants(svc.proc.pid):
                    self.roles[pid] = role
        groups["redis"] = [self.system.redis.proc.pid] if self.system.redis and self.system.redis.proc else []
        return groups

    def read(self, previous: dict | None = None) -> dict:
        groups = self._groups()
        with self.conn.cursor() as cur:
            groups["postgres"] = proccpu.backend_pids(cur, self.db_name, previous["cpu"] if previous else None)
        cpu = proccpu.snapshot({k: v for k, v in groups.items() if k != "postgres"})
        cpu.update(proccpu.snapshot({"postgres": groups["postgres"]}, with_children=False))
        cpu.update(proccpu.snapshot({"loadgen": [os.getpid()]}, with_children=False))
        with self.conn.cursor() as cur:
            cur.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (self.db_name,))
            xacts = int(cur.fetchone()[0])
        return {"at": time.perf_counter(), "cpu": cpu, "xacts": xacts,
                "redis": workcount.commandstats_calls(self.redis.info("commandstats")),
                "sql": workcount.sql_statements(self.metrics_dir, lambda pid: self.roles.get(pid, "other"))}


def window_report(before: dict, after: dict, out: Outcomes, own_queries: int) -> dict:
    """Per-paid-order figures of one measured window."""
    paid = out.paid
    cpu = proccpu.cpu_used(before["cpu"], after["cpu"])
    sql = workcount.delta(before["sql"], after["sql"])
    redis_calls = workcount.delta(before["redis"], after["redis"])
    redis_calls.pop("info", None)  # the meter's own reads
    span = (out.last_paid - out.first_start) if out.last_paid and out.first_start else 0.0
    per = (lambda n: round(n / paid, 2)) if paid else (lambda n: 0.0)
    steps = {}
    for name, lat in out.steps.items():
        s = lat.summary()
        steps[name] = {"count": s["count"], "p50_ms": round(s["p50"], 1), "p99_ms": round(s["p99"], 1), "max_ms": round(s["max"], 1)}
    return {
        "paid_orders": paid, "ended": dict(sorted(out.ended.items())), "errors": out.errors[:20],
        "load_s": round(span, 2), "window_s": round(after["at"] - before["at"], 2),
        "paid_orders_per_s": round(paid / span, 1) if span else 0.0,
        "cpu_ms_per_order": {k: round(v, 2) for k, v in cpu.per_unit(paid).items()},
        "cpu_lost_processes": cpu.lost,
        "sql_per_order": per(sum(sql.values())),
        "sql_per_order_by_role": {k: per(v) for k, v in sorted(workcount.by_role(sql).items())},
        "sql_per_order_by_kind": {k: per(v) for k, v in sorted(workcount.by_kind(sql).items())},
        "xacts_per_order": per(after["xacts"] - before["xacts"] - own_queries),
        "redis_per_order": per(sum(redis_calls.values())),
        "redis_top": {k: per(v) for k, v in sorted(redis_calls.items(), key=lambda kv: -kv[1])[:8]},
        "steps": steps,
    }


def idle_report(before: dict, after: dict) -> dict:
    """What the system spends per second with no purchases: CPU ms by process, SQL, Redis commands.
    Part of every window too (idle polls and ticks do not stop under load), so at low order rates
    it weighs on the per-order figures."""
    seconds = after["at"] - before["at"]
    cpu = proccpu.cpu_used(before["cpu"], after["cpu"])
    redis_calls = workcount.delta(before["redis"], after["redis"])
    redis_calls.pop("info", None)
    return {"seconds": round(seconds, 2), "cpu_ms": {k: round(v / seconds, 1) for k, v in cpu.ms.items() if k != "loadgen"},
            "sql": round(sum(workcount.delta(before["sql"], after["sql"]).values()) / seconds, 1),
            "redis": round(sum(redis_calls.values()) / seconds, 1),
            "redis_top": {k: round(v / seconds, 1) for k, v in sorted(redis_calls.items(), key=lambda kv: -kv[1])[:4]}}


async def admitted_fans(api: Api, session: aiohttp.ClientSession, base: str, event_id: str, count: int,
                        tag: str) -> list[tuple[str, str]]:
    """Join ``count`` fans before on-sale, open the sale, wait until the first wave admitted them.
    Returns [(user, token)]. Raises RuntimeError when joins fail or nobody is admitted."""
    users = [f"{tag}-{i}-{uuid.uuid4().hex[:8]}" for i in range(count)]
    tokens = [""] * count

    async def join(s, i: int) -> int:
        for _ in range(JOIN_ATTEMPTS):  # a busy shared machine answers a few 503s; a fan tries again
            async with s.post(f"{base}/events/{event_id}/waiting-room/join", headers={"X-User-Id": users[i]}) as resp:
                if resp.status in (200, 201):
                    tokens[i] = (await resp.json()).get("token", "")
                    return resp.status
                if resp.status not in (429, 503):
                    return resp.status
                pause = resp.headers.get("Retry-After", "1")
            await asyncio.sleep(min(5.0, float(pause) if pause.isdigit() else 1.0))
        return 503

    result = await run_load(join, 128, total=count, session=session)
    if result.errors or not all(tokens):
        raise RuntimeError(f"joining failed: {result.as_dict()}")
    await open_sale(api, event_id, 2.0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with session.get(f"{base}/events/{event_id}/waiting-room/status", params={"token": tokens[-1]},
                               headers={"X-User-Id": users[-1]}) as resp:
            if (await resp.json()).get("canEnter"):
                return list(zip(users, tokens, strict=True))
        await asyncio.sleep(0.2)
    raise RuntimeError("the fans were not admitted within 60 s of on-sale")


def wait_settled(conn, event_id: str, timeout_s: float = SETTLE_TIMEOUT_S) -> tuple[int, bool]:
    """Poll until every paid order of the event has its tickets. Returns (queries made, settled)."""
    deadline, queries = time.monotonic() + timeout_s, 0
    while True:
        with conn.cursor() as cur:
            cur.execute("SELECT (SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE event_id = %s AND status = 'paid'),"
                        " (SELECT COUNT(*) FROM tickets WHERE event_id = %s)", (event_id, event_id))
            ordered, issued = cur.fetchone()
        queries += 1
        if issued >= ordered or time.monotonic() >= deadline:
            return queries, issued >= ordered
        time.sleep(0.1)


async def run_phase(name: str, system, session, api: Api, meter: Meter, db_conn, args, rng: random.Random) -> dict:
    if name == "closed":
        fans_n, tickets = args.fans, args.tickets
    else:
        fans_n = int(args.rate * args.rate_seconds)
        tickets = 2 * fans_n  # enough for every fan: the paced phase measures latency, not a sell-out
    event_id, tiers = await create_event(api, f"Purchase bench {name}", [TierSpec("GA", 5_000, tickets, 2)],
                                         wave_size=min(100_000, fans_n), wave_interval_s=1.0)
    fans = await admitted_fans(api, session, system.base_url, event_id, fans_n, name)
    buyer = Buyer(session, system.base_url, event_id, tiers[0]["id"], rng)
    await asyncio.sleep(PG_STATS_FLUSH_S)  # setup's statistics flushed before the window opens
    idle_start = await asyncio.to_thread(meter.read)
    await asyncio.sleep(IDLE_S)
    before = await asyncio.to_thread(meter.read, idle_start)
    log.info("%s: %d fans admitted, %d tickets; buying", name, len(fans), tickets)
    if name == "closed":
        out = await closed_loop(buyer, fans, args.clients, args.duration)
    else:
        out = await paced(buyer, fans, args.rate)
    queries, settled = await asyncio.to_thread(wait_settled, db_conn, event_id)
    await asyncio.sleep(PG_STATS_FLUSH_S)
    after = await asyncio.to_thread(meter.read, before)
    report = window_report(before, after, out, queries)
    report["idle_per_s"] = idle_report(idle_start, before)
    report.update(phase=name, event_id=event_id, tickets=tickets, fans=len(fans), settled=settled)
    if name == "closed":
        report.update(clients=args.clients, duration_s=args.duration)
    else:
        report.update(offered_per_s=args.rate, rate_seconds=args.rate_seconds)
    return report


def check_events(database_url: str, event_ids: list[str]) -> list[str]:
    """bench.purchasecheck over every phase's event, read from the database."""
    from models.db import bind_database, database, open_database

    bind_database(open_database(database_url, max_connections=1))
    found = []
    try:
        with database.connection_context():
            for event_id in event_ids:
                found += [f"event {event_id}: {v}" for v in purchasecheck.violations(*purchasecheck.read_rows(event_id))]
    finally:
        database.obj.close_all()
    return found


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


async def run(args: argparse.Namespace, command: str) -> dict:
    from bench.drop.infra import _admin_connection
    from bench.drop.system import System, SystemOptions
    from models.redis import connect_sync

    run_id = datetime.now().strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:4]
    run_dir = Path(args.out).parent / f"purchase-{run_id}"
    result = {"command": command, "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
              "cpus": os.cpu_count(), "loadavg_before": _loadavg(),
              "processes": {"web": args.web, "workers": args.workers, "threads": args.threads}, "phases": []}
    print(f"# {command}\n# load average (1/5/15 min) before: {result['loadavg_before']} on {os.cpu_count()} CPUs", flush=True)
    system = System(SystemOptions(
        run_dir=run_dir, run_id=run_id, web_processes=args.web, worker_processes=args.workers,
        worker_threads=args.threads, postgres_url=args.postgres,
        settings_env={"HOLD_TTL_S": "900", "ADMISSION_TTL_S": "3600", "LOG_LEVEL": "WARNING"}))
    await asyncio.to_thread(system.start)
    if system.database is None or system.database.kind != "postgresql":
        system.stop()
        raise RuntimeError(f"PostgreSQL at {args.postgres} is not usable; this benchmark needs it")
    server = args.postgres
    db_name = system.database.created[1] if system.database.created else ""
    admin = _admin_connection(server)
    own = _admin_connection(server.rsplit("/", 1)[0] + "/" + db_name)
    redis_client = connect_sync(system.redis_url)
    event_ids = []
    try:
        meter = Meter(system, admin.conn, redis_client, db_name)
        async with make_session(max(args.clients, 1024), timeout_s=60) as session:
            api = Api(session, system.base_url, Recorder(time.monotonic()), limit=8, deadline=time.monotonic() + 3600,
                      admin_token=system.admin_token)
            rng = random.Random(args.seed)
            try:
                for phase in (["closed"] if args.clients > 0 else []) + (["paced"] if args.rate > 0 else []):
                    report = await run_phase(phase, system, session, api, meter, own.conn, args, rng)
                    result["phases"].append(report)
                    event_ids.append(report["event_id"])
                    print(table({**result, "phases": [report]}, header=phase == "closed" or args.clients <= 0), flush=True)
            finally:
                await api.close()
        await asyncio.to_thread(system.stop_processes)
        result["violations"] = await asyncio.to_thread(check_events, system.env["DATABASE_URL"], event_ids)
    finally:
        redis_client.close()
        own.conn.close()
        admin.conn.close()
        await asyncio.to_thread(system.stop)
    result["loadavg_after"] = _loadavg()
    return result


def table(result: dict, header: bool = True) -> str:
    rows = []
    if header:
        rows += ["| phase | paid orders | paid/s | CPU ms/order total | web | worker | scheduler | PostgreSQL | Redis | "
                 "load gen | SQL/order | xacts/order | Redis cmds/order | reserve p50/p99 ms | session p50/p99 | "
                 "confirm p50/p99 | purchase p50/p99 | failed | timed out |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in result["phases"]:
        cpu, st = p["cpu_ms_per_order"], p["steps"]
        name = f"closed, {p['clients']} clients" if p["phase"] == "closed" else f"paced, {p['offered_per_s']:g}/s offered"
        failed = sum(n for k, n in p["ended"].items() if k.startswith(("failed", "error")))
        rows.append(f"| {name} | {p['paid_orders']} | {p['paid_orders_per_s']} | {cpu.get('total', 0)} | {cpu.get('web', 0)} | "
                    f"{cpu.get('worker', 0)} | {cpu.get('scheduler', 0)} | {cpu.get('postgres', 0)} | {cpu.get('redis', 0)} | "
                    f"{cpu.get('loadgen', 0)} | {p['sql_per_order']} | {p['xacts_per_order']} | {p['redis_per_order']} | "
                    + " | ".join(f"{st[s]['p50_ms']:g} / {st[s]['p99_ms']:g}" for s in STEPS)
                    + f" | {failed} | {p['ended'].get('timed_out', 0)} |")
    return "\n".join(rows)


def details(result: dict) -> str:
    lines = []
    for p in result["phases"]:
        lines.append(f"{p['phase']}: ended {p['ended']}; load {p['load_s']} s, window {p['window_s']} s "
                     f"(to every ticket issued: {p['settled']})")
        lines.append(f"  total CPU ms/order excludes the load generator: "
                     f"{round(p['cpu_ms_per_order'].get('total', 0) - p['cpu_ms_per_order'].get('loadgen', 0), 2)}")
        lines.append(f"  SQL/order by process {p['sql_per_order_by_role']}, by kind {p['sql_per_order_by_kind']}")
        lines.append(f"  Redis/order top commands {p['redis_top']}")
        idle = p["idle_per_s"]
        lines.append(f"  idle, per second ({idle['seconds']} s before the window): CPU ms {idle['cpu_ms']}, "
                     f"SQL {idle['sql']}, Redis {idle['redis']} {idle['redis_top']}")
        if p["cpu_lost_processes"]:
            lines.append(f"  processes that exited during the window (CPU not counted): {p['cpu_lost_processes']}")
        for e in p["errors"][:5]:
            lines.append(f"  failure: {e}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from bench.drop.system import add_process_arguments

    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.purchase", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--clients", type=int, default=200, help="closed-loop clients (0: skip the closed phase)")
    parser.add_argument("--duration", type=float, default=20.0, help="longest closed phase, s")
    parser.add_argument("--tickets", type=int, default=10_000, help="tickets of the closed phase's event")
    parser.add_argument("--fans", type=int, default=None, help="fans admitted for the closed phase (default: --tickets)")
    parser.add_argument("--rate", type=float, default=300.0, help="purchases/s offered by the paced phase (0: skip it)")
    parser.add_argument("--rate-seconds", type=float, default=10.0, help="length of the paced phase, s")
    add_process_arguments(parser, web=1, workers=1)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="server on which a fresh database is created (and dropped afterwards)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="var/bench/purchase.json")
    args = parser.parse_args(argv)
    args.fans = args.fans or args.tickets
    logging.basicConfig(level=logging.INFO, format="%(asctime)s purchase: %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    command = " ".join(["python -m bench.purchase", *map(shlex.quote, argv)])
    try:
        result = asyncio.run(run(args, command))
    except RuntimeError as exc:
        print(f"bench.purchase could not run: {exc}", file=sys.stderr)
        return 2
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(details(result))
    print(f"# load average after: {result['loadavg_after']}; JSON in {args.out}")
    failed = sum(n for p in result["phases"] for k, n in p["ended"].items() if k.startswith(("failed", "error")))
    for v in result["violations"]:
        print(f"VIOLATION: {v}")
    print("invariants: " + ("PASS (sold <= capacity per tier, sold = paid quantities, tickets unique, every paid order "
                            "has all its tickets)" if not result["violations"] else f"FAIL, {len(result['violations'])} violations"))
    if failed:
        print(f"{failed} purchases failed: an answer outside the API's contract (see the failures above)")
    return 1 if result["violations"] or failed else 0


if __name__ == "__main__":
    sys.exit(main())
