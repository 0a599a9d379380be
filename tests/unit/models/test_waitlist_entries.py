"""The fan's view of the waitlist: the fans ahead counted in their tier's line, the index that
line is read from, and the statements a join and a listing cost."""

from __future__ import annotations

import uuid

from models.db import database, is_postgres
from models.schema import create_schema
from models.tables import WaitlistEntry, utcnow
from models.waitlist.entries import _join_row, active_entry, user_entries
from models.waitlist.lines import WaitingLines
from tests.unit.models.checkout_factories import make_tier
from tests.unit.models.waitlist_factories import join_in_db, statements_sent

#: The partial index a tier's waiting line is read from (models/tables.py).
AHEAD_INDEX = "waitlist_entries_waiting_ahead"


def _entry(tier, user_id, rank, status="waiting"):
    now = utcnow()
    return WaitlistEntry.create(id=uuid.uuid4(), event=tier.event_id, tier=tier.id, user_id=user_id, quantity=1,
                                position=rank, rank=rank, status=status, created_at=now, updated_at=now)


def test_each_waiting_fan_sees_the_waiting_fans_ranked_before_it_ties_broken_by_id(db):
    tier, other_tier = make_tier(), make_tier()
    statuses = ["waiting", "waiting", "left", "offered", "waiting", "lapsed", "waiting", "canceled"]
    rows = [_entry(tier, f"fan-{i}", rank=1 + i // 3, status=statuses[i % len(statuses)]) for i in range(40)]
    rows += [_entry(other_tier, f"fan-{i}", rank=1, status="waiting") for i in range(5)]
    waiting = [(e.tier_id, e.rank, e.id) for e in rows if e.status == "waiting"]
    for e in rows:
        (doc,) = [d for d in user_entries(e.user_id) if d["id"] == str(e.id)]
        expected = (sum(1 for t, r, i in waiting if t == e.tier_id and (r, i) < (e.rank, e.id))
                    if e.status == "waiting" else None)
        assert doc["ahead"] == expected, (e.user_id, e.rank, e.status)


def test_the_fans_ahead_index_exists_after_create_schema_and_comes_back_on_an_older_database(db):
    def ahead_index():
        return [i for i in database.get_indexes("waitlist_entries") if i.name == AHEAD_INDEX]

    (index,) = ahead_index()
    assert index.columns == ["tier_id", "rank", "id"] and not index.unique
    database.execute_sql(f'DROP INDEX "{AHEAD_INDEX}"')  # a database made before the index shipped
    assert ahead_index() == []
    create_schema()
    create_schema()
    assert len(ahead_index()) == 1


def test_listing_a_fans_entries_is_one_statement_and_one_per_waiting_tier_whose_line_is_not_known(db, monkeypatch):
    tiers = [make_tier() for _ in range(3)]
    for i, tier in enumerate(tiers):
        _entry(tier, "someone-else", rank=1)
        _entry(tier, "fan-1", rank=2, status="waiting" if i else "left")
    user_entries("nobody")  # on PostgreSQL, this connection prepares the document's statement
    sent = statements_sent(monkeypatch)
    lines = WaitingLines(max_age_s=3600.0)  # no line ages during the test, however slow the machine
    docs = user_entries("fan-1", lines=lines)
    document = "EXECUTE" if is_postgres() else "SELECT"
    assert sent == [document, "SELECT", "SELECT"], "the entries, then the lines of the two tiers where the fan waits"
    assert sorted(d["ahead"] for d in docs if d["status"] == "waiting") == [1, 1]

    sent.clear()
    assert user_entries("fan-1", lines=lines) == docs
    assert sent == [document], "within their max age the lines are known"


def test_a_first_join_writes_one_statement_and_a_second_finds_the_entry(db, monkeypatch):
    tier = make_tier()
    sent = statements_sent(monkeypatch)
    entry_id, created = _join_row(str(tier.event_id), str(tier.id), "fan-1", 2, None)
    assert created and sent == ["INSERT"]
    again_id, again = _join_row(str(tier.event_id), str(tier.id), "fan-1", 1, None)
    assert (again_id, again) == (entry_id, False)
    monkeypatch.undo()
    assert WaitlistEntry.get_by_id(entry_id).quantity == 2
    assert active_entry(str(tier.id), "fan-1")["id"] == str(entry_id)


def test_a_fan_who_left_rejoins_at_the_back_of_the_line(db):
    tier = make_tier()
    entry, _ = join_in_db(str(tier.event_id), str(tier.id), "fan-1", 1, 5)
    _entry(tier, "fan-2", rank=9)
    WaitlistEntry.update(status="left").where(WaitlistEntry.id == entry.id).execute()
    assert active_entry(str(tier.id), "fan-1") is None
    again, created = join_in_db(str(tier.event_id), str(tier.id), "fan-1", 2, 5)
    assert created and again.id == entry.id and (again.status, again.quantity) == ("waiting", 2)
    assert again.rank > 9 and user_entries("fan-1", lines=WaitingLines())[0]["ahead"] == 1


def test_a_fans_id_is_sent_as_a_bound_value_whatever_it_contains(db):
    tier = make_tier()
    odd = "o'brien?); DROP TABLE waitlist_entries; -- %s $1 \\"
    entry = _entry(tier, odd, rank=1)
    _entry(tier, "o'brien", rank=2)
    assert [d["id"] for d in user_entries(odd, lines=WaitingLines())] == [str(entry.id)]
    assert active_entry(str(tier.id), odd, lines=WaitingLines())["id"] == str(entry.id)
    assert user_entries("' OR '1'='1", lines=WaitingLines()) == []
    assert WaitlistEntry.select().count() == 2
