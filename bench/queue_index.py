"""What the ``(event_id, position)`` index on queue_entries costs the journal copy, and what it
saves the tick's newest-place check (restore.behind_the_database), on PostgreSQL.

    python -m bench.queue_index                      # 1M rows, 2 rounds (~2.5 min)
    python -m bench.queue_index --rows 200000 --rounds 1

Each round fills two temporary tables shaped like queue_entries, one without and one with the
index, in turn, as flush_journal writes them (10,000 rows a transaction, 1,000 a statement,
``ON CONFLICT DO NOTHING``), then times the check's query on each. Temporary tables vanish with
the connection: nothing is left in the database.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time

import psycopg2
import psycopg2.extras

ROWS_PER_TRANSACTION = 10_000
ROWS_PER_STATEMENT = 1_000
NEWEST = "SELECT field, position FROM {t} WHERE event_id = %s AND position > 0 ORDER BY position DESC LIMIT 1"


def fill(cur, table: str, rows: list[tuple[str, str, int]]) -> float:
    """Seconds to copy ``rows`` into ``table`` the way the tick copies the journal."""
    started = time.perf_counter()
    for start in range(0, len(rows), ROWS_PER_TRANSACTION):
        chunk = rows[start:start + ROWS_PER_TRANSACTION]
        psycopg2.extras.execute_values(cur, f"INSERT INTO {table} VALUES %s ON CONFLICT DO NOTHING", chunk,
                                       page_size=ROWS_PER_STATEMENT)
        cur.connection.commit()
    return time.perf_counter() - started


def newest_ms(cur, table: str, event_id: str, repeats: int = 50) -> float:
    cur.execute(f"ANALYZE {table}")
    started = time.perf_counter()
    for _ in range(repeats):
        cur.execute(NEWEST.format(t=table), (event_id,))
        cur.fetchall()
    return (time.perf_counter() - started) * 1000 / repeats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    print("command:", " ".join([sys.executable, "-m", "bench.queue_index", *(argv or sys.argv[1:])]))
    print("load before:", open("/proc/loadavg").read().strip())
    event_id = secrets.token_hex(18)
    rows = [(event_id, secrets.token_urlsafe(22), position) for position in range(1, args.rows + 1)]
    conn = psycopg2.connect(args.postgres)
    cur = conn.cursor()
    rates: dict[str, list[float]] = {"plain": [], "indexed": []}
    queries: dict[str, list[float]] = {"plain": [], "indexed": []}
    try:
        for round_ in range(1, args.rounds + 1):
            for kind in ("plain", "indexed"):
                table = f"qe_{kind}_{round_}"
                cur.execute(f"CREATE TEMP TABLE {table} (event_id varchar(36), field varchar(32), position int, "
                            "PRIMARY KEY (event_id, field))")
                if kind == "indexed":
                    cur.execute(f"CREATE INDEX ON {table} (event_id, position)")
                conn.commit()
                rates[kind].append(args.rows / fill(cur, table, rows))
                queries[kind].append(newest_ms(cur, table, event_id))
                cur.execute(f"DROP TABLE {table}")
                conn.commit()
                print(f"round {round_} {kind:>7}: copy {rates[kind][-1]:,.0f} rows/s, "
                      f"newest-place query {queries[kind][-1]:.3f} ms", flush=True)
    finally:
        conn.close()
    plain, indexed = statistics.median(rates["plain"]), statistics.median(rates["indexed"])
    print(f"copy rate, indexed / plain: {indexed / plain:.2f} (medians {indexed:,.0f} / {plain:,.0f} rows/s); "
          f"newest-place query {statistics.median(queries['indexed']):.3f} ms indexed, "
          f"{statistics.median(queries['plain']):.1f} ms plain, at {args.rows:,} rows")
    print("load after:", open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
