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
    ("SET LOCAL statement_timeout = 5", "other"),
    ("", "other"),
])
def test_each_statement_is_counted_under_its_first_keyword(query, kind):
    assert statement_kind(query) == kind


def test_a_composed_query_object_counts_as_other():
    assert statement_kind(sql.SQL("SELECT {}").format(sql.Literal(1))) == "other"
