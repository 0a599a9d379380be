"""Prepared statements: the same rows as the plain statement; on PostgreSQL prepared once per
connection (tests/integration/test_sql_prepared_on_postgres.py runs these there too)."""

from __future__ import annotations

from models.db import is_postgres
from models.sql import Prepared
from tests.unit.models.checkout_factories import make_tier
from tests.unit.models.waitlist_factories import statements_sent

TIER_NAMES = Prepared("test_tier_names", "SELECT name FROM ticket_tiers WHERE price_cents >= ? ORDER BY name")


def test_placeholders_become_numbered_parameters_and_the_execute_takes_them_in_order():
    statement = Prepared("two_args", "SELECT a FROM t WHERE b = ? AND c = ?")
    assert statement._definition == "PREPARE two_args AS SELECT a FROM t WHERE b = $1 AND c = $2"
    assert statement._execute == "EXECUTE two_args (%s, %s)"
    assert Prepared("no_args", "SELECT 1")._execute == "EXECUTE no_args"


def test_a_prepared_statement_gives_the_rows_of_the_plain_one(db):
    make_tier(name="Floor", price_cents=9000)
    make_tier(name="GA", price_cents=5000)
    make_tier(name="VIP", price_cents=20000)
    assert TIER_NAMES.rows([9000]) == [("Floor",), ("VIP",)]
    assert TIER_NAMES.rows([1]) == [("Floor",), ("GA",), ("VIP",)]


def test_a_connection_sends_the_statement_once_and_then_only_its_arguments(db, monkeypatch):
    make_tier(name="GA", price_cents=5000)
    TIER_NAMES.rows([0])  # this connection's first use
    sent = statements_sent(monkeypatch)
    assert TIER_NAMES.rows([0]) == [("GA",)]
    assert sent == (["EXECUTE"] if is_postgres() else ["SELECT"])
