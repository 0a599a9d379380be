"""SQLite write transactions: one that reads first must not fail when another process wrote meanwhile.

In WAL mode a deferred transaction reads from a snapshot; if another connection commits before it
writes, its first write fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT), busy
timeout or not. The operator console's "Apply" of wave settings met this in CI while the
scheduler wrote (a 503 "The database is unavailable or busy").
"""

from __future__ import annotations

import peewee
import pytest

from models import catalog, seed
from models.catalog import events as events_module
from models.db import database
from models.sql import write_transaction
from models.tables import Event
from tests.factories import make_event
from tests.races import another_sqlite_writer_commits


@pytest.fixture
def path(db):
    return database.obj.database


def read_then_write(transaction, path) -> bool:
    """Read, let another connection try to commit, then write; whether the other one got in."""
    with transaction:
        Event.select().count()
        other_committed = another_sqlite_writer_commits(path)
        Event.update(name="written").execute()
    return other_committed


def test_a_deferred_transaction_that_reads_first_fails_after_another_writer_commits(db, path):
    make_event()
    with pytest.raises(peewee.OperationalError, match="locked"):
        read_then_write(database.atomic(), path)


def test_a_write_transaction_keeps_other_writers_out_until_it_commits(db, path):
    make_event()
    assert read_then_write(write_transaction(), path) is False
    assert another_sqlite_writer_commits(path) is True
    assert Event.select().where(Event.name == "written").count() == 1


def test_changing_an_event_survives_a_write_between_its_read_and_its_update(db, path, monkeypatch):
    event = make_event()
    real_changed = events_module._changed

    def changed_while_the_scheduler_writes(row, changes):
        another_sqlite_writer_commits(path)
        return real_changed(row, changes)

    monkeypatch.setattr(events_module, "_changed", changed_while_the_scheduler_writes)
    catalog.update_event(event.id, {"wave_size": 25, "wave_interval_s": 2})
    assert (Event.get_by_id(event.id).wave_size, Event.get_by_id(event.id).wave_interval_s) == (25, 2)


def test_seeding_survives_a_write_between_its_check_and_its_inserts(db, path, monkeypatch):
    real_create = seed._create

    def create_while_another_process_writes(sample, now):
        another_sqlite_writer_commits(path)
        return real_create(sample, now)

    monkeypatch.setattr(seed, "_create", create_while_another_process_writes)
    assert seed.seed(if_empty=True) == len(seed.SAMPLE_EVENTS)
