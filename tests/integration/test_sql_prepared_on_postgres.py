"""Prepared statements on real PostgreSQL: the unit tests again, and the plan's life: prepared
once per connection, kept through a rolled-back transaction and a return to the pool, prepared
again on a new connection."""

from __future__ import annotations

import peewee
import pytest

from models.db import database
from tests.unit.models.checkout_factories import make_tier
from tests.unit.models.test_sql_prepared import *  # noqa: F403
from tests.unit.models.test_sql_prepared import TIER_NAMES
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
