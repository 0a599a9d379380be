"""The sample catalogue: ten events from the overview, timed relative to now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from models.db import bind_database, open_database
from models.seed import SAMPLE_EVENTS, seed
from models.tables import Event, TicketTier
from ticketdrop.cli import main

NOW = datetime(2030, 5, 1, 12, 0, 30, tzinfo=UTC)
BASKETBALL = ["Lakers vs Warriors", "Celtics vs Heat", "Knicks vs Nets", "Bulls vs Bucks"]
ARTISTS = ["Taylor Swift", "The Weeknd", "Beyoncé", "Drake & 21 Savage", "Bad Bunny", "Ed Sheeran"]


def test_seeding_creates_the_four_games_and_six_concerts_of_the_overview(db):
    assert seed(if_empty=False, now=NOW) == 10
    names = [e.name for e in Event.select()]
    assert len(names) == 10
    for game in BASKETBALL:
        assert game in names
    for artist in ARTISTS:
        assert sum(name.startswith(artist) for name in names) == 1, artist


def test_every_sample_event_has_two_to_four_realistic_tiers(db):
    seed(if_empty=False, now=NOW)
    for event in Event.select():
        tiers = list(TicketTier.select().where(TicketTier.event == event.id))
        assert 2 <= len(tiers) <= 4, event.name
        assert all(500 <= t.price_cents <= 300_000 and 1 <= t.per_user_limit <= 6 for t in tiers), event.name
        assert event.venue and len(event.description) > 40


def test_sizes_run_from_a_small_demo_room_to_stadiums(db):
    seed(if_empty=False, now=NOW)
    totals = {e.name: sum(t.capacity for t in TicketTier.select().where(TicketTier.event == e.id)) for e in Event.select()}
    assert min(totals.values()) == 40
    assert all(300 <= total <= 10_000 for name, total in totals.items() if total != 40)


def test_about_half_are_on_sale_and_the_rest_open_minutes_to_days_ahead(db):
    seed(if_empty=False, now=NOW)
    events = list(Event.select())
    on_sale = [e for e in events if e.status == "on_sale"]
    scheduled = [e for e in events if e.status == "scheduled"]
    assert len(on_sale) == 5 and len(scheduled) == 5
    assert all(NOW - timedelta(hours=3) <= e.on_sale_at <= NOW for e in on_sale)
    assert all(NOW < e.on_sale_at <= NOW + timedelta(days=7) for e in scheduled)
    assert min(e.on_sale_at for e in scheduled) <= NOW + timedelta(minutes=5)
    assert all(NOW + timedelta(days=13) <= e.starts_at <= NOW + timedelta(days=60) for e in events)


def test_every_sample_event_starts_in_the_evening_on_its_venue_clock(db):
    seed(if_empty=False, now=NOW)
    zones = {e.name: e.timezone for e in Event.select()}
    assert zones["Ed Sheeran: An Intimate Acoustic Evening"] == "America/Los_Angeles"
    assert zones["Bulls vs Bucks"] == "America/Chicago"
    assert zones["Drake & 21 Savage: It's All a Blur Tour"] == "America/Toronto"
    for event in Event.select():
        local = event.starts_at.astimezone(ZoneInfo(event.timezone))
        assert 19 <= local.hour <= 20, (event.name, local)


def test_seeding_if_empty_leaves_an_existing_catalogue_alone(db):
    assert seed(if_empty=True, now=NOW) == 10
    assert seed(if_empty=True, now=NOW) == 0
    assert Event.select().count() == 10


def test_seeding_without_if_empty_adds_a_fresh_set(db):
    seed(if_empty=True, now=NOW)
    assert seed(if_empty=False) == 10
    assert Event.select().count() == 20


def test_sample_times_use_the_current_clock_by_default(db):
    seed(if_empty=False)
    soonest = min(e.on_sale_at for e in Event.select().where(Event.status == "scheduled"))
    assert datetime.now(UTC) < soonest < datetime.now(UTC) + timedelta(minutes=10)


def test_the_seed_command_seeds_the_configured_database(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["seed", "--if-empty"]) == 0
    assert main(["seed", "--if-empty"]) == 0
    assert capsys.readouterr().out.splitlines() == ["seeded 10 events", "database already has events; not seeding"]
    db = bind_database(open_database(url))
    with db.connection_context():
        assert Event.select().count() == len(SAMPLE_EVENTS)
    db.close_all()
