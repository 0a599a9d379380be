"""Run one call from many threads released at the same instant (two scanners, two payments...)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from typing import Any


def at_once(n: int, call: Callable[[], Any], *, db: Any = None, expected: tuple[type[BaseException], ...] = (),
            keep_errors: bool = False) -> list[Any]:
    """``call()`` from ``n`` threads behind one barrier, each in its own connection of ``db``.
    Returns the results, with an ``expected`` exception's ``extra["result"]`` in its place (and,
    with ``keep_errors``, any other exception itself)."""
    results: list[Any] = []
    barrier = threading.Barrier(n)

    def run() -> None:
        barrier.wait()
        with db.connection_context() if db is not None else contextlib.nullcontext():
            try:
                results.append(call())
            except expected as exc:
                results.append(exc.extra["result"])
            except Exception as exc:  # noqa: BLE001 - kept for the caller's assertions
                if not keep_errors:
                    raise
                results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results



def another_sqlite_writer_commits(path: str) -> bool:
    """Commit a write to the SQLite file at ``path`` from a connection of its own, without waiting
    for a lock. True if it committed; False if a transaction holding the write lock kept it out
    (what a write transaction taken with BEGIN IMMEDIATE does)."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS other_writers (n INTEGER)")
        conn.execute("INSERT INTO other_writers VALUES (1)")
        return True
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    finally:
        conn.close()
