"""Counting every SQL statement a process sends to PostgreSQL, at the driver.

The count sits in psycopg2's cursor, below Peewee, so it sees what the server sees: queries
Peewee builds, hand-written SQL on the same connection, the pool's ``SELECT 1`` ping and the
BEGIN/COMMIT Peewee sends in autocommit mode. The PostgreSQL server here has no
pg_stat_statements (it is not in shared_preload_libraries), so this counter
(``ticketdrop_sql_statements_total``) is how ``make bench-purchase`` gets statements per order.

Counting must cost next to nothing, or it would weigh on the figures it serves: a multiprocess
prometheus ``inc()`` costs several microseconds (a lock and an mmap write), so statements are
added up in a plain dict under a lock (~0.3 us) and a daemon thread moves them into the
counter every ``FLUSH_INTERVAL_S`` (and at exit). Readers see counts at most that old.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

import psycopg2.extensions

from models.metrics import SQL_STATEMENTS

#: How often counted statements reach the prometheus counter, in seconds.
FLUSH_INTERVAL_S = 0.5
#: First keywords counted under their own name; anything else is "other".
#: ``prepare`` and ``execute``: a statement models.sql.Prepared plans once per connection, and
#: each run of it.
_KINDS = frozenset({"select", "insert", "update", "delete", "with", "prepare", "execute"})
_TXN = frozenset({"begin", "commit", "rollback", "savepoint", "release", "start", "end"})
#: Exact texts Peewee and its pool send, and the 7-character prefixes of the SQL Peewee builds:
#: classified by one dict lookup instead of parsing.
_EXACT = {"SELECT 1": "ping", "BEGIN": "txn", "COMMIT": "txn", "ROLLBACK": "txn"}
_PREFIX = {"SELECT ": "select", "INSERT ": "insert", "UPDATE ": "update", "DELETE ": "delete", "WITH \"": "with"}

_lock = threading.Lock()
_pending: dict[str, int] = {}
_flusher: threading.Thread | None = None


def statement_kind(query: Any) -> str:
    """The counting bucket of ``query`` (str, bytes or a psycopg2.sql object): select, insert,
    update, delete, with, prepare, execute, txn, ping (``SELECT 1``) or other."""
    if isinstance(query, str):
        kind = _EXACT.get(query) if len(query) <= 8 else _PREFIX.get(query[:7])
        if kind is not None:
            return kind
    elif isinstance(query, bytes):
        query = query[:64].decode("ascii", "replace")
    else:
        return "other"
    head = query[:64].strip().lower()
    word = head.split(None, 1)[0].rstrip(";") if head else ""
    if word == "select" and head.rstrip(";").strip() == "select 1":
        return "ping"
    if word in _TXN:
        return "txn"
    return word if word in _KINDS else "other"


def count(query: Any, n: int = 1) -> None:
    """Count ``n`` statements of ``query``'s kind (they reach the counter at the next flush)."""
    kind = statement_kind(query)
    with _lock:
        _pending[kind] = _pending.get(kind, 0) + n
    if _flusher is None:
        _start_flusher()


def flush() -> None:
    """Move the statements counted so far into ``ticketdrop_sql_statements_total``."""
    with _lock:
        pending = dict(_pending)
        _pending.clear()
    for kind, n in pending.items():
        SQL_STATEMENTS.labels(kind).inc(n)


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_INTERVAL_S)
        flush()


def _start_flusher() -> None:
    global _flusher
    with _lock:
        if _flusher is not None:
            return
        _flusher = threading.Thread(target=_flush_forever, name="sqlcount-flush", daemon=True)
    _flusher.start()


def _forget_parent() -> None:
    """In a forked child: the parent's pending counts are the parent's; start a flusher anew."""
    global _flusher, _lock
    _lock = threading.Lock()
    _pending.clear()
    _flusher = None


os.register_at_fork(after_in_child=_forget_parent)
atexit.register(flush)


class CountingCursor(psycopg2.extensions.cursor):
    """A psycopg2 cursor that counts each statement before sending it."""

    def execute(self, query, vars=None):  # noqa: A002 - psycopg2's own parameter name
        count(query)
        return super().execute(query, vars)

    def executemany(self, query, vars_list: Iterable):
        rows = list(vars_list)  # psycopg2 sends one statement per parameter set
        count(query, len(rows))
        return super().executemany(query, rows)
