"""The waitlist documents' tests again, on real PostgreSQL: the fans ahead, the index a tier's line
is read from (created by create_schema, and PostgreSQL's plan using it in order), statements per
join and list."""

from __future__ import annotations

import uuid

import peewee
import pytest

from models.db import database
from models.tables import WaitlistEntry, utcnow
from models.waitlist.entries import user_entries
from models.waitlist.lines import WaitingLines
from tests.unit.models.checkout_factories import make_tier
from tests.unit.models.test_waitlist_entries import *  # noqa: F403
from tests.unit.models.test_waitlist_entries import AHEAD_INDEX

pytestmark = pytest.mark.integration


def test_postgresql_reads_a_tiers_line_in_order_on_the_index_alone(db):
    assert isinstance(database.obj, peewee.PostgresqlDatabase), "this module runs on PostgreSQL"
    tier, now = make_tier(), utcnow()
    WaitlistEntry.insert_many([dict(id=uuid.uuid4(), event=tier.event_id, tier=tier.id, user_id=f"fan-{i}", quantity=1,
                                    position=i + 1, rank=i + 1, status="waiting", created_at=now, updated_at=now)
                               for i in range(2000)]).execute()
    database.execute_sql("VACUUM ANALYZE waitlist_entries")  # as autovacuum would: the pages all-visible
    sent, execute_sql = [], database.obj.execute_sql
    database.obj.execute_sql = lambda sql, params=None, *a, **k: sent.append((sql, params)) or execute_sql(sql, params, *a, **k)
    try:
        assert user_entries("fan-1500", lines=WaitingLines())[0]["ahead"] == 1500
    finally:
        del database.obj.execute_sql
    assert [first.split(None, 1)[0] for first, _ in sent] == ["PREPARE", "EXECUTE", "SELECT"]
    (sql, params) = sent[-1]  # the tier's line
    plan = "\n".join(row[0] for row in database.execute_sql("EXPLAIN " + sql, params).fetchall())
    assert f"Index Only Scan using {AHEAD_INDEX}" in plan and "Sort" not in plan, plan
