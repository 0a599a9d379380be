"""Opening a checkout session on PostgreSQL: the session and its Idempotency-Key record go in
one statement (INSERTs inside a WITH), and the key's rules still hold."""

from __future__ import annotations

import orjson
import pytest

from models import checkout
from models.db import database
from models.errors import IdempotencyMismatch
from models.tables import CheckoutSession, IdempotencyRecord
from tests.unit.models.checkout_factories import make_hold, make_tier

pytestmark = pytest.mark.integration

_TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def _open(hold, key):
    return checkout.open_session(user_id="fan-1", reservation_id=hold.id, idempotency_key=key)


def test_a_new_session_costs_the_reservation_read_and_one_statement_that_also_records_the_key(db, monkeypatch):
    hold = make_hold(make_tier())
    sent, execute_sql = [], database.obj.execute_sql

    def spy(sql, *args, **kwargs):
        sent.append(sql.split(None, 1)[0].upper())
        return execute_sql(sql, *args, **kwargs)

    monkeypatch.setattr(database.obj, "execute_sql", spy)
    opened = _open(hold, "key-1")
    monkeypatch.undo()
    assert opened.created
    assert [kind for kind in sent if kind not in _TRANSACTION] == ["SELECT", "WITH"]
    record = IdempotencyRecord.get(IdempotencyRecord.key == "key-1")
    assert (record.state, record.response_status) == ("completed", 201)
    assert orjson.loads(record.response_body) == opened.document == orjson.loads(opened.body)


def test_the_same_key_again_replays_the_first_answer_without_a_second_session(db):
    hold = make_hold(make_tier())
    first = _open(hold, "key-1")
    again = _open(hold, "key-1")
    assert (again.status, again.body) == (201, first.body)
    assert CheckoutSession.select().count() == 1


def test_a_key_already_used_for_another_reservation_rolls_the_new_session_back(db):
    tier = make_tier()
    _open(make_hold(tier), "key-1")
    other = make_hold(tier, user_id="fan-1", quantity=1)
    with pytest.raises(IdempotencyMismatch):
        _open(other, "key-1")
    assert CheckoutSession.select().where(CheckoutSession.reservation == other.id).count() == 0
