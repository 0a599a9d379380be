"""Counting every SQL statement a process sends to PostgreSQL, at the driver.

The count sits in psycopg2's cursor, below Peewee, so it sees what the server sees: queries
Peewee builds, hand-written SQL on the same connection, the pool's ``SELECT 1`` ping and the
BEGIN/COMMIT Peewee sends in autocommit mode. The PostgreSQL server here has no
pg_stat_statements (it is not in shared_preload_libraries), so this counter
(``ticketdrop_sql_statements_total``) is how ``make bench-purchase`` gets statements per order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg2.extensions

from models.metrics import SQL_STATEMENTS

#: First keywords counted under their own name; anything else is "other".
_KINDS = frozenset({"select", "insert", "update", "delete", "with"})
_TXN = frozenset({"begin", "commit", "rollback", "savepoint", "release", "start", "end"})
#: One bound counter per kind: labels() costs a dict lookup and a lock on every call.
_COUNTERS: dict[str, Any] = {}


def statement_kind(query: Any) -> str:
    """The counting bucket of ``query`` (str, bytes or a psycopg2.sql object): select, insert,
    update, delete, with, txn, ping (``SELECT 1``) or other."""
    if isinstance(query, bytes):
        query = query[:64].decode("ascii", "replace")
    elif not isinstance(query, str):
        return "other"
    head = query[:64].strip().lower()
    word = head.split(None, 1)[0].rstrip(";") if head else ""
    if word == "select" and head.rstrip(";").strip() == "select 1":
        return "ping"
    if word in _TXN:
        return "txn"
    return word if word in _KINDS else "other"


def _count(query: Any, n: int = 1) -> None:
    kind = statement_kind(query)
    counter = _COUNTERS.get(kind)
    if counter is None:
        counter = _COUNTERS[kind] = SQL_STATEMENTS.labels(kind)
    counter.inc(n)


class CountingCursor(psycopg2.extensions.cursor):
    """A psycopg2 cursor that counts each statement before sending it."""

    def execute(self, query, vars=None):  # noqa: A002 - psycopg2's own parameter name
        _count(query)
        return super().execute(query, vars)

    def executemany(self, query, vars_list: Iterable):
        rows = list(vars_list)  # psycopg2 sends one statement per parameter set
        _count(query, len(rows))
        return super().executemany(query, rows)
