"""Prepared statements on real PostgreSQL: the unit tests again, and the plan's life: prepared
once per connection, kept through a rolled-back transaction and a return to the pool, prepared
again on a new connection, after a session reset (DISCARD ALL) and after a migration that
changed a selected column's type."""

from __future__ import annotations

import peewee
import psycopg2
import pytest

from models.db import database
from models.sql import Prepared
from models.waitlist.entries import entry_document
from models.waitlist.lines import WaitingLines
from tests.integration.conftest import pg_url
from tests.unit.models.checkout_factories import make_tier
from tests.unit.models.test_sql_prepared import *  # noqa: F403
from tests.unit.models.test_sql_prepared import TIER_NAMES
from tests.unit.models.test_waitlist_entries import _entry
from tests.unit.models.waitlist_factories import statements_sent

pytestmark = pytest.mark.integration


def test_postgresql_prepares_once_per_connection_even_across_a_rollback(db, monkeypatch):
    assert isinstance(database.obj, peewee.PostgresqlDatabase), "this module runs on PostgreSQL"
    make_tier(name="GA", price_cents=5000)
    database.close()
    database.connect()
    sent = statements_sent(monkeypatch)
    with database.atomic() as transaction:
        assert TIER_NAMES.rows([0]) == [("GA",)]
        transaction.rollback()
    assert TIER_NAMES.rows([0]) == [("GA",)]
    assert sent == ["PREPARE", "EXECUTE", "EXECUTE"]

    database.close()  # back to the pool, plan and all
    database.connect()
    sent.clear()
    assert TIER_NAMES.rows([0]) == [("GA",)]
    assert sent == ["EXECUTE"], "the pool's connection kept its plan"

    database.close()
    database.obj.close_all()
    database.connect()
    sent.clear()
    assert TIER_NAMES.rows([0]) == [("GA",)]
    assert sent == ["PREPARE", "EXECUTE"], "a new connection has no plan yet"


@pytest.fixture
def scratch(db, pg_database_name):
    """A table of its own (``prepared_scratch``: id, name VARCHAR(10), two rows) and a session of
    another process on the same database, to migrate it under the prepared statement."""
    database.execute_sql("CREATE TABLE prepared_scratch (id INTEGER PRIMARY KEY, name VARCHAR(10))")
    database.execute_sql("INSERT INTO prepared_scratch VALUES (1, 'a'), (2, 'b')")
    migrator = psycopg2.connect(pg_url(pg_database_name))
    migrator.autocommit = True
    try:
        yield migrator.cursor()
    finally:
        migrator.close()
        database.execute_sql("DROP TABLE IF EXISTS prepared_scratch")


SCRATCH = Prepared("test_scratch_rows", "SELECT id, name FROM prepared_scratch WHERE id >= ? ORDER BY id")


def test_columns_added_and_dropped_by_a_migration_need_no_new_plan_and_leave_the_selected_ones(scratch, monkeypatch):
    assert SCRATCH.rows([1]) == [(1, "a"), (2, "b")]
    sent = statements_sent(monkeypatch)
    scratch.execute("ALTER TABLE prepared_scratch ADD COLUMN before_name TEXT DEFAULT 'x'")
    assert SCRATCH.rows([1]) == [(1, "a"), (2, "b")]
    scratch.execute("ALTER TABLE prepared_scratch DROP COLUMN before_name")
    assert SCRATCH.rows([2]) == [(2, "b")]
    assert sent == ["EXECUTE", "EXECUTE"], "PostgreSQL planned it again by itself"


def test_a_migration_changing_a_selected_columns_type_has_the_statement_prepared_again(scratch, monkeypatch):
    assert SCRATCH.rows([1]) == [(1, "a"), (2, "b")]
    sent = statements_sent(monkeypatch)
    # Even a wider VARCHAR changes the result type: PostgreSQL then fails every EXECUTE of the
    # plan ("cached plan must not change result type", 0A000) until it is deallocated.
    scratch.execute("ALTER TABLE prepared_scratch ALTER COLUMN name TYPE VARCHAR(20)")
    assert SCRATCH.rows([1]) == [(1, "a"), (2, "b")]
    assert SCRATCH.rows([2]) == [(2, "b")]
    assert sent == ["EXECUTE", "DEALLOCATE", "PREPARE", "EXECUTE", "EXECUTE"]


def test_a_stale_plan_met_inside_a_transaction_fails_it_and_is_prepared_again_after_it(scratch, monkeypatch):
    assert SCRATCH.rows([1]) == [(1, "a"), (2, "b")]
    scratch.execute("ALTER TABLE prepared_scratch ALTER COLUMN name TYPE TEXT")
    sent = statements_sent(monkeypatch)
    with pytest.raises(peewee.NotSupportedError, match="cached plan must not change result type"):
        with database.atomic():
            SCRATCH.rows([1])  # the transaction is aborted: nothing more can be sent in it
    assert SCRATCH.rows([1]) == [(1, "a"), (2, "b")]
    assert sent == ["EXECUTE", "EXECUTE", "DEALLOCATE", "PREPARE", "EXECUTE"]


def test_a_session_reset_under_the_same_connection_has_the_statement_prepared_again(db, monkeypatch):
    make_tier(name="GA", price_cents=5000)
    assert TIER_NAMES.rows([0]) == [("GA",)]
    database.execute_sql("DISCARD ALL")  # what a pooler's reset does: every prepared statement gone
    sent = statements_sent(monkeypatch)
    assert TIER_NAMES.rows([0]) == [("GA",)]
    assert sent == ["EXECUTE", "PREPARE", "EXECUTE"]

    database.execute_sql("DEALLOCATE test_tier_names")
    sent.clear()
    with pytest.raises(peewee.OperationalError, match="does not exist"), database.atomic():
        TIER_NAMES.rows([0])
    assert TIER_NAMES.rows([0]) == [("GA",)]
    assert sent == ["EXECUTE", "PREPARE", "EXECUTE"]


def test_a_prepare_in_an_aborted_transaction_is_not_taken_for_done(db, monkeypatch):
    make_tier(name="GA", price_cents=5000)
    database.close()
    database.obj.close_all()
    database.connect()  # a connection with no plan yet
    with pytest.raises(peewee.InternalError, match="current transaction is aborted"), database.atomic():
        with pytest.raises(peewee.DataError):
            database.execute_sql("SELECT 1 / 0")
        TIER_NAMES.rows([0])
    sent = statements_sent(monkeypatch)
    assert TIER_NAMES.rows([0]) == [("GA",)]
    assert sent == ["PREPARE", "EXECUTE"]


def test_the_waitlist_document_survives_a_migration_of_its_tables(db, pg_database_name):
    tier = make_tier(name="GA")
    fan = _entry(tier, "fan-1", rank=1)
    before = entry_document(fan.id, lines=WaitingLines())
    migrator = psycopg2.connect(pg_url(pg_database_name))
    migrator.autocommit = True
    try:
        with migrator.cursor() as cur:
            cur.execute("ALTER TABLE waitlist_entries ADD COLUMN note TEXT")
            cur.execute("ALTER TABLE ticket_tiers ALTER COLUMN name TYPE VARCHAR(300)")
        assert entry_document(fan.id, lines=WaitingLines()) == before
    finally:
        with migrator.cursor() as cur:  # the session's other tests share these tables
            cur.execute("ALTER TABLE waitlist_entries DROP COLUMN IF EXISTS note")
            cur.execute("ALTER TABLE ticket_tiers ALTER COLUMN name TYPE VARCHAR(100)")
        migrator.close()


def test_a_connection_whose_server_session_ended_is_replaced_and_its_successor_prepares(scratch, monkeypatch):
    assert SCRATCH.rows([1]) == [(1, "a"), (2, "b")]
    scratch.execute("SELECT pg_terminate_backend(%s)", (database.connection().get_backend_pid(),))
    with pytest.raises(peewee.OperationalError):
        SCRATCH.rows([1])  # once: the driver marks the connection closed and the pool drops it
    database.close()
    database.connect()
    sent = statements_sent(monkeypatch)
    assert SCRATCH.rows([1]) == [(1, "a"), (2, "b")]
    assert sent == ["PREPARE", "EXECUTE"], "a new connection object: never taken for the old one"
