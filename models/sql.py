"""Hand-written SQL for the hot paths, through Peewee's own connection.

Peewee stays the models layer; on the hot paths (session open, confirm, the settle batch, the
waitlist's polled document) its query building cost more than the database did (~24% of a web
process under a purchase load), so those statements are written once, and a polled one whose
planning costs PostgreSQL more than running it is prepared per connection (:class:`Prepared`).
Values still go through each field's ``db_value`` (UUIDs as hex, timestamps as naive UTC)
exactly as Peewee would send them, and rows come back through ``python_value``, so both
backends (PostgreSQL, SQLite >= 3.35 for RETURNING) agree.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import peewee
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from models.db import database, is_postgres


def params(n: int) -> str:
    """``n`` placeholders in the driver's style: ``%s, %s`` or ``?, ?``."""
    return ", ".join([database.param] * n)


def rows(sql: str, args: Sequence[Any] = ()) -> list[tuple]:
    """Run one statement and return every row it produced (SELECT, or ... RETURNING)."""
    cursor = database.execute_sql(sql.replace("?", database.param) if database.param != "?" else sql, args)
    return cursor.fetchall()


#: EXECUTE's errors that are the session's plan's, not the statement's. 26000 "prepared
#: statement does not exist": the session was reset under the same connection (``DISCARD ALL``).
#: 0A000 "cached plan must not change result type": a migration changed the type of a selected
#: column (even a VARCHAR's length); PostgreSQL fails every EXECUTE of that plan until it is
#: deallocated, where the plain statement runs. (Added or dropped columns it does not select, it
#: plans again by itself.)
_PLAN_LOST, _PLAN_STALE = "26000", "0A000"


class Prepared:
    """A statement PostgreSQL plans once per connection (``PREPARE``, then ``EXECUTE``), for a
    polled read whose planning costs more than running it: the waitlist's document, a join of
    four tables, took 175-195 µs of its backend's CPU planned every time and 35-40 µs prepared
    (``python -m bench.waitlist``; docs/benchmarks.md, "Waitlist after the sell-out"). SQLite's
    driver keeps a statement cache of its own: there it is an ordinary statement.

    Needs a session of its own per connection (direct connections, or a pooler in session mode;
    a transaction-mode pooler would lose the plan between statements). ``sql`` takes ``?``
    placeholders, as :func:`rows` does; ``name`` must be unique in the process."""

    def __init__(self, name: str, sql: str) -> None:
        self.name, self.sql = name, sql
        pieces = sql.split("?")
        self._definition = f"PREPARE {name} AS " + "".join(
            piece + (f"${i}" if i < len(pieces) else "") for i, piece in enumerate(pieces, 1))
        self._execute = f"EXECUTE {name}" + (f" ({', '.join(['%s'] * (len(pieces) - 1))})" if len(pieces) > 1 else "")
        #: The connections this statement is prepared on (a closed one drops out by itself).
        self._prepared_on: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()

    def rows(self, args: Sequence[Any] = ()) -> list[tuple]:
        """Every row the statement produces with ``args``. A plan the session lost or can no
        longer use (see ``_PLAN_LOST``, ``_PLAN_STALE``) is prepared again once, outside a
        transaction; inside one the error is raised (the transaction is aborted) and the next
        call prepares it."""
        if not is_postgres():
            return rows(self.sql, args)
        connection = database.connection()
        with self._lock:
            prepared = connection in self._prepared_on
        if not prepared:
            # A prepared statement outlives a rolled-back transaction: once per connection it is.
            self._prepare(connection)
        try:
            return database.execute_sql(self._execute, args).fetchall()
        except peewee.DatabaseError as exc:
            code = getattr(getattr(exc, "orig", None), "pgcode", None)
            if code == _PLAN_LOST:
                with self._lock:
                    self._prepared_on.discard(connection)
            # In a transaction (now aborted) nothing more can be sent: a lost plan is prepared by
            # the next call, a stale one (still there, still marked) deallocated by the next call
            # outside a transaction.
            if code not in (_PLAN_LOST, _PLAN_STALE) or connection.get_transaction_status() != TRANSACTION_STATUS_IDLE:
                raise
        if code == _PLAN_STALE:
            database.execute_sql(f"DEALLOCATE {self.name}")
            with self._lock:
                self._prepared_on.discard(connection)
        self._prepare(connection)
        return database.execute_sql(self._execute, args).fetchall()

    def _prepare(self, connection: Any) -> None:
        database.execute_sql(self._definition)
        with self._lock:
            self._prepared_on.add(connection)


def execute(sql: str, args: Sequence[Any] = ()) -> int:
    """Run one statement; returns its row count."""
    cursor = database.execute_sql(sql.replace("?", database.param) if database.param != "?" else sql, args)
    return cursor.rowcount


def uid(value: Any) -> str:
    """A UUID as the database stores it (32 hex digits)."""
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


def text_id(value: Any) -> str:
    """A UUID the database returned (hex or dashed) as the canonical dashed text."""
    return str(value) if isinstance(value, uuid.UUID) else str(uuid.UUID(str(value)))


def ids_in(values: Iterable[Any]) -> tuple[str, list[str]]:
    """``(placeholders, args)`` for ``IN (...)`` over UUIDs."""
    args = [uid(v) for v in values]
    return params(len(args)), args


def lock_rows(of: str, *, skip_locked: bool = False) -> str:
    """``FOR UPDATE OF <of> [SKIP LOCKED]`` on PostgreSQL; nothing on SQLite, whose write
    transactions (see :func:`write_transaction`) already exclude each other."""
    if not is_postgres():
        return ""
    return f" FOR UPDATE OF {of}" + (" SKIP LOCKED" if skip_locked else "")


def write_transaction() -> Any:
    """A transaction that will write. SQLite: take the write lock up front (a deferred
    transaction that reads first fails at once with "database is locked" when it upgrades after
    another writer committed)."""
    return database.atomic() if is_postgres() else database.atomic("IMMEDIATE")


def value(field: peewee.Field, raw: Any) -> Any:
    """A column read by hand, as the field would give it back."""
    return field.python_value(raw)
