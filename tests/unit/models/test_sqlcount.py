import pytest
from psycopg2 import sql

from models.sqlcount import statement_kind


@pytest.mark.parametrize(("query", "kind"), [
    ("SELECT 1", "ping"),
    ("  select 1;", "ping"),
    ('SELECT "t1"."id" FROM "orders" AS "t1" WHERE ("t1"."id" = %s)', "select"),
    (b"INSERT INTO tickets VALUES (%s)", "insert"),
    ("UPDATE ticket_tiers SET sold = sold + %s", "update"),
    ("DELETE FROM reservations", "delete"),
    ("WITH paid AS (UPDATE x SET y = 1 RETURNING id) SELECT * FROM paid", "with"),
    ("BEGIN", "txn"),
    ("COMMIT", "txn"),
    ("ROLLBACK", "txn"),
    ("SAVEPOINT s1", "txn"),
    ("PREPARE waitlist_entry AS SELECT w.id FROM waitlist_entries w WHERE w.id = $1", "prepare"),
    ("EXECUTE waitlist_entry (%s)", "execute"),
    ("SET LOCAL statement_timeout = 5", "other"),
    ("", "other"),
])
def test_each_statement_is_counted_under_its_first_keyword(query, kind):
    assert statement_kind(query) == kind


def test_a_composed_query_object_counts_as_other():
    assert statement_kind(sql.SQL("SELECT {}").format(sql.Literal(1))) == "other"


def _counted(kind: str) -> float:
    from models.metrics import SQL_STATEMENTS

    return SQL_STATEMENTS.labels(kind)._value.get()


def test_counted_statements_reach_the_prometheus_counter_at_the_next_flush():
    from models import sqlcount

    sqlcount.flush()
    before = _counted("update"), _counted("txn")
    sqlcount.count("UPDATE ticket_tiers SET held = held - %s")
    sqlcount.count("COMMIT")
    sqlcount.count("UPDATE orders SET status = %s", 3)  # executemany with three parameter sets
    sqlcount.flush()
    assert (_counted("update") - before[0], _counted("txn") - before[1]) == (4, 1)
    sqlcount.flush()
    assert _counted("update") - before[0] == 4  # a flush moves each statement once
