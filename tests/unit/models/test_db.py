"""Schema creation: an older database gains the columns and indexes added since, keeping its rows."""

from __future__ import annotations

import pytest

from models.db import bind_database, database, open_database
from models.schema import ADDED_COLUMNS, create_schema
from models.tables import Event

# The events table as it was before events had a time zone.
OLD_EVENTS_TABLE = """CREATE TABLE events (
    id VARCHAR(40) PRIMARY KEY, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
    name VARCHAR(200) NOT NULL, venue VARCHAR(200) NOT NULL, description TEXT NOT NULL,
    starts_at DATETIME NOT NULL, on_sale_at DATETIME NOT NULL, status VARCHAR(16) NOT NULL,
    paused INTEGER NOT NULL, wave_size INTEGER, wave_interval_s REAL)"""


@pytest.fixture
def old_db(tmp_path):
    bind_database(open_database(f"sqlite:///{tmp_path / 'old.db'}"))
    with database.connection_context():
        database.execute_sql(OLD_EVENTS_TABLE)
        database.execute_sql(
            "INSERT INTO events VALUES ('7b0c3c1e-3f0e-4a57-9d55-0a4b8c6b1a11', '2030-01-01 00:00:00', "
            "'2030-01-01 00:00:00', 'Old show', 'Old hall', '', '2030-02-01 20:00:00', '2030-01-15 10:00:00', "
            "'scheduled', 0, NULL, NULL)")
    yield database
    database.obj.close_all()


def test_create_schema_adds_the_time_zone_column_to_an_old_events_table(old_db):
    create_schema()
    with database.connection_context():
        assert "timezone" in {c.name for c in database.get_columns("events")}
        old = Event.get(Event.name == "Old show")
    assert old.timezone == "UTC"


def test_create_schema_is_idempotent_on_a_migrated_database(old_db):
    create_schema()
    create_schema()
    with database.connection_context():
        names = [c.name for c in database.get_columns("events")]
    assert names.count("timezone") == 1


def test_a_fresh_schema_already_has_every_added_column(db):
    for table, column, _definition in ADDED_COLUMNS:
        assert column in {c.name for c in database.get_columns(table)}


def test_a_row_written_without_a_time_zone_gets_the_sql_default(db):
    database.execute_sql(
        "INSERT INTO events (id, created_at, updated_at, name, venue, description, starts_at, on_sale_at, status, paused) "
        "VALUES ('9f1d8e52-8b7a-4c1e-a3c5-2f6a0b1d3e44', '2030-01-01 00:00:00', '2030-01-01 00:00:00', 'Raw', 'Hall', '', "
        "'2030-02-01 20:00:00', '2030-01-15 10:00:00', 'draft', 0)")
    assert Event.get(Event.name == "Raw").timezone == "UTC"


def test_create_schema_adds_the_newest_place_index_to_a_queue_entries_table_made_without_it(old_db):
    create_schema()

    def newest_place_indexes() -> list[str]:
        return [i.name for i in database.get_indexes("queue_entries") if i.columns == ["event_id", "position"]]

    with database.connection_context():
        [name] = newest_place_indexes()
        database.execute_sql(f'DROP INDEX "{name}"')  # as a database made before the index was
        assert newest_place_indexes() == []
    create_schema()
    with database.connection_context():
        assert len(newest_place_indexes()) == 1
