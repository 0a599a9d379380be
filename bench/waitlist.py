"""The waitlist's own reads after a sell-out, on real PostgreSQL: one join, one ``/me/waitlist``.

A database of its own (``td_bench_wl_<hex>``, dropped at the end) gets one sold-out tier with
``--entries`` fans on its waitlist (one in twenty has left it), ranked by their place. Then, one
at a time, without the web tier: joins of fans who never queued (they rank last, so the count
of fans ahead reads the whole line), joins answered with the fan's existing entry (mid-line),
and ``user_entries`` (the body of ``GET /me/waitlist``) of a mid-line and a last fan. Each is
timed (median of ``--repeat``) and its SQL statements counted; then ``--cpu-calls`` more calls
give its CPU per call: this process's (Python) and the database's backends' (PostgreSQL, from
/proc: a figure the machine's other work does not move, unlike the milliseconds). Redis is
fakeredis: only the stock counter and the waiting-room place are read from it. ``--vacuum`` runs
VACUUM ANALYZE after the load, as autovacuum would in time (index-only scans need the visibility
map).

    python -m bench.waitlist --entries 10000 [--vacuum]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import urllib.parse
import uuid
from datetime import timedelta
from typing import Any, NamedTuple

import fakeredis
import psycopg2

from bench import proccpu
from models.catalog.snapshot import load_snapshot
from models.db import bind_database, database, open_database
from models.keys import Keys
from models.schema import create_schema
from models.settings import Settings
from models.tables import Event, TicketTier, WaitlistEntry, utcnow
from models.waitlist import entries


class Counted:
    """Counts the statements the bound database sends while active (its execute_sql)."""

    def __init__(self, db: Any) -> None:
        self.db, self.sent = db, 0

    def __enter__(self) -> Counted:
        execute_sql = type(self.db).execute_sql

        def spy(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
            self.sent += 1
            return execute_sql(self.db, sql, params, *args, **kwargs)

        self.db.execute_sql = spy
        return self

    def __exit__(self, *exc: Any) -> None:
        del self.db.execute_sql


def _load(n: int) -> TicketTier:
    now = utcnow()
    event = Event.create(name="Bench", venue="Arena", status="on_sale", on_sale_at=now - timedelta(hours=1),
                         starts_at=now + timedelta(days=7))
    tier = TicketTier.create(event=event, name="Floor", price_cents=5000, capacity=10, sold=10)
    rows = [dict(id=uuid.uuid4(), event=tier.event_id, tier=tier.id, user_id=f"fan-{i}", quantity=1 + i % 2,
                 position=i + 1, rank=i + 1, status="left" if i % 20 == 0 else "waiting", created_at=now, updated_at=now)
            for i in range(n)]
    for i in range(0, n, 1000):
        WaitlistEntry.insert_many(rows[i:i + 1000]).execute()
    return tier


class Case(NamedTuple):
    name: str
    median_ms: float
    statements: int
    ahead: Any
    python_us: float
    postgres_us: float


async def _measure(db: Any, tier: TicketTier, n: int, repeat: int, cpu_calls: int, backends: Any) -> list[Case]:
    """Each case timed and counted; ``backends()`` lists the backend pids to read CPU from."""
    redis = fakeredis.FakeAsyncRedis(decode_responses=True)
    keys, settings, event_id = Keys("bench:"), Settings(secret_key="bench-secret-key-0123456789abcdef"), str(tier.event_id)
    await redis.hset(keys.stock(event_id), str(tier.id), 0)

    async def run_blocking(fn: Any, *args: Any, **kwargs: Any) -> Any:
        with database.connection_context():
            return fn(*args, **kwargs)

    snapshot = await run_blocking(load_snapshot, event_id, 100, 1.0)
    cases = {
        "join, new fan (ranks last)": lambda k: entries.join(redis, keys, settings, snapshot, user_id=f"new-{k}",
                                                             tier_id=str(tier.id), quantity=1, run_blocking=run_blocking),
        "join, fan already waiting": lambda k: entries.join(redis, keys, settings, snapshot, user_id=f"fan-{n // 2 + 1}",
                                                            tier_id=str(tier.id), quantity=1, run_blocking=run_blocking),
        "user_entries, mid-line fan": lambda k: run_blocking(entries.user_entries, f"fan-{n // 2 + 1}"),
        "user_entries, last fan": lambda k: run_blocking(entries.user_entries, f"fan-{n - 1}"),
    }
    results = []
    for name, call in cases.items():
        times, counts, answer = [], [], None
        for k in range(repeat + 3):  # the first three warm the pool and caches
            with Counted(db) as counted:
                start = time.perf_counter()
                answer = await call(k)
                elapsed = (time.perf_counter() - start) * 1000
            if k >= 3:
                times.append(elapsed)
                counts.append(counted.sent)
        doc = answer.entry if isinstance(answer, entries.Joined) else answer[0]
        before, python_before = proccpu.snapshot({"postgres": backends()}, with_children=False), time.process_time()
        for k in range(cpu_calls):
            await call(repeat + 3 + k)
        python_s = time.process_time() - python_before
        used = proccpu.cpu_used(before, proccpu.snapshot({"postgres": backends()}, with_children=False))
        per_call = max(cpu_calls, 1)
        results.append(Case(name, statistics.median(times), max(counts), doc["ahead"], python_s * 1e6 / per_call,
                            used.ms.get("postgres", 0.0) * 1000 / per_call))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.waitlist", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000, help="fans on the tier's waitlist")
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per case")
    parser.add_argument("--cpu-calls", type=int, default=2000, help="calls per case read for CPU per call")
    parser.add_argument("--vacuum", action="store_true", help="VACUUM ANALYZE the waitlist after loading it")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432/test",
                        help="a database on the PostgreSQL server to connect to while creating and dropping ours")
    args = parser.parse_args(argv)
    url = urllib.parse.urlsplit(args.server)
    connect = dict(host=url.hostname or "127.0.0.1", port=url.port or 5432, user=url.username, password=url.password)
    name = f"td_bench_wl_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname=url.path.lstrip("/") or "postgres", **connect)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    db = open_database(urllib.parse.urlunsplit(url._replace(path=f"/{name}")), max_connections=2)
    try:
        bind_database(db)
        create_schema()
        with database.connection_context():
            tier = _load(args.entries)
        if args.vacuum:
            vacuum = psycopg2.connect(dbname=name, **connect)
            vacuum.autocommit = True
            vacuum.cursor().execute("VACUUM ANALYZE waitlist_entries")
            vacuum.close()
        def backends() -> list[int]:
            with admin.cursor() as cur:
                return proccpu.backend_pids(cur, name)

        for case in asyncio.run(_measure(db, tier, args.entries, args.repeat, args.cpu_calls, backends)):
            print(f"{case.name:30} {case.median_ms:7.2f} ms median  {case.statements} statements  ahead={case.ahead}  "
                  f"CPU per call: Python {case.python_us:.0f} µs, PostgreSQL {case.postgres_us:.0f} µs")
    finally:
        db.close_all()
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                        "AND pid <> pg_backend_pid()", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
