"""Database binding: one proxy every table uses, bound at start-up from DATABASE_URL.

SQLite (the embedded default) runs in WAL mode with a busy timeout; PostgreSQL uses a
connection pool. Both behave the same for our queries: conditional UPDATEs report their
row count, which is what the inventory relies on. Creating the tables: ``models.schema``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import peewee
from playhouse.db_url import connect
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from models.errors import ConfigError
from models.sqlcount import CountingCursor

#: Every model binds to this; :func:`bind_database` points it at a real database.
database = peewee.DatabaseProxy()

#: SQLite waits this long for a lock before failing, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 15_000


class PooledPostgres(PooledPostgresqlDatabase):
    """Peewee's pooled PostgreSQL without the ``SELECT 1`` it sends on every checkout.

    A checkout trusts the driver's own state instead: psycopg2 marks a connection closed (or its
    transaction status unknown) after any failure on it, and check-in rolls back a connection
    left inside a transaction. A connection the server dropped while it sat idle in the pool
    fails its next statement once (a 503, retried by the client); the pool then discards it,
    and ``stale_timeout`` recycles idle connections long before servers time them out.
    """

    def _is_closed(self, conn) -> bool:
        return bool(conn.closed) or self._adapter.txn_status(conn) == self._adapter.txn_unknown


def open_database(url: str, *, max_connections: int = 20) -> peewee.Database:
    """Create (not connect) the database for ``url``; raises ConfigError for unknown schemes."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        path = url.split("sqlite:///", 1)[-1] if url.startswith("sqlite:///") else ":memory:"
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return PooledSqliteDatabase(
            path,
            max_connections=max_connections,
            stale_timeout=300,
            timeout=30,
            check_same_thread=False,
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
                "synchronous": "normal",
                "foreign_keys": 1,
            },
        )
    if scheme in {"postgres", "postgresql", "postgres+pool", "postgresql+pool"}:
        parts = urlsplit(url)
        return PooledPostgres(
            parts.path.lstrip("/") or "postgres",
            user=parts.username,
            password=parts.password,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            max_connections=max_connections,
            stale_timeout=300,
            timeout=10,
            # Every statement counted at the driver (models.sqlcount): the bench's SQL per order.
            cursor_factory=CountingCursor,
        )
    try:
        return connect(url)
    except Exception as exc:  # playhouse raises a bare RuntimeError for unknown schemes
        raise ConfigError(f"Setting DATABASE_URL={url!r} is not a supported database URL") from exc


def bind_database(db: peewee.Database) -> peewee.Database:
    """Point every model at ``db``."""
    database.initialize(db)
    return db


def is_postgres() -> bool:
    return isinstance(database.obj, peewee.PostgresqlDatabase)
