"""Creating the schema: every table and index (an index added since is created on an older database
too), and the columns an older database lacks (``init-db``)."""

from __future__ import annotations

import peewee

from models.db import database
from models.tables import ALL_TABLES

#: Columns added after their table first shipped: (table, column, SQL definition). create_tables
#: leaves an existing table alone, so init-db adds these to a database made by an older version.
#: Each needs a DEFAULT or NULL (old rows get it) and must stay valid in SQLite and PostgreSQL.
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("events", "timezone", "VARCHAR(64) NOT NULL DEFAULT 'UTC'"),
    ("reservations", "price_cents", "INTEGER NULL"),
    ("events", "self_cancel_window_s", "INTEGER NULL"),
    ("orders", "refunded_at", "TIMESTAMP NULL"),
    ("orders", "refund_cents", "INTEGER NULL"),
    ("orders", "cancel_reason", "VARCHAR(32) NULL"),
    ("events", "ticket_mode", "VARCHAR(16) NOT NULL DEFAULT 'both'"),
    ("tickets", "secret", "VARCHAR(64) NULL"),
)


def create_schema() -> None:
    """Create every table and index if missing, and add the ADDED_COLUMNS an older database
    lacks (idempotent; two processes doing it at once are fine)."""
    with database.connection_context():
        database.create_tables(ALL_TABLES, safe=True)
        for table, column, definition in ADDED_COLUMNS:
            _add_column(table, column, definition)


def _has_column(table: str, column: str) -> bool:
    return any(c.name == column for c in database.get_columns(table))


def _add_column(table: str, column: str, definition: str) -> None:
    if _has_column(table, column):
        return
    try:
        with database.atomic():
            database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {definition}')
    except peewee.DatabaseError:
        # Another process added it between our look and our ALTER: that is the goal reached.
        if not _has_column(table, column):
            raise
