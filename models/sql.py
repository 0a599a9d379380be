"""Hand-written SQL for the purchase path, through Peewee's own connection.

Peewee stays the models layer; on the hot path (session open, confirm, the settle batch) its
query building cost more than the database did (~24% of a web process under a purchase load),
so those statements are written here once. Values still go through each field's ``db_value``
(UUIDs as hex, timestamps as naive UTC) exactly as Peewee would send them, and rows come back
through ``python_value``, so both backends (PostgreSQL, SQLite >= 3.35 for RETURNING) agree.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import peewee

from models.db import database, is_postgres


def params(n: int) -> str:
    """``n`` placeholders in the driver's style: ``%s, %s`` or ``?, ?``."""
    return ", ".join([database.param] * n)


def rows(sql: str, args: Sequence[Any] = ()) -> list[tuple]:
    """Run one statement and return every row it produced (SELECT, or ... RETURNING)."""
    cursor = database.execute_sql(sql.replace("?", database.param) if database.param != "?" else sql, args)
    return cursor.fetchall()


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
