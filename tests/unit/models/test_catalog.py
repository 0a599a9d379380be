"""Catalogue services: event lifecycle, time order, tiers and their capacity guard, documents."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from models import catalog
from models.catalog import events as events_module
from models.catalog.rules import TRANSITIONS
from models.catalog.statuses import EVENT_STATUSES
from models.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from models.tables import Event, TicketTier

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


def catalog_event(**overrides) -> Event:
    """An event made through the catalogue service (its rules applied), not straight into the table."""
    fields = {"name": "Knicks vs Nets", "venue": "Madison Square Garden", "starts_at": NOW + timedelta(days=30),
              "on_sale_at": NOW + timedelta(days=1)}
    fields.update(overrides)
    return catalog.create_event(**fields)


def catalog_tier(event: Event, **overrides) -> TicketTier:
    fields = {"event_id": event.id, "name": "Floor", "price_cents": 10_000, "capacity": 100}
    fields.update(overrides)
    return catalog.create_tier(**fields)


def set_status(event: Event, status: str) -> None:
    Event.update(status=status).where(Event.id == event.id).execute()


# -- events ---------------------------------------------------------------------------------

def test_a_new_event_is_a_draft_with_default_fields(db):
    event = catalog_event()
    stored = Event.get_by_id(event.id)
    assert (stored.status, stored.description, stored.paused, stored.wave_size, stored.wave_interval_s) == ("draft", "", False, None, None)
    assert stored.starts_at == NOW + timedelta(days=30)


@pytest.mark.parametrize("on_sale_at", [NOW + timedelta(days=30), NOW + timedelta(days=31)])
def test_creating_an_event_whose_sale_does_not_open_before_it_starts_fails_naming_on_sale_at(db, on_sale_at):
    with pytest.raises(ValidationFailed) as info:
        catalog_event(on_sale_at=on_sale_at)
    assert info.value.errors[0]["field"] == "on_sale_at"
    assert Event.select().count() == 0


def test_an_event_is_in_utc_unless_given_its_venue_time_zone(db):
    assert catalog_event().timezone == "UTC"
    assert Event.get_by_id(catalog_event(timezone="America/Chicago").id).timezone == "America/Chicago"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "Europe/berlin"])
def test_an_unknown_time_zone_fails_naming_timezone_on_create_and_update(db, zone):
    with pytest.raises(ValidationFailed) as info:
        catalog_event(timezone=zone)
    assert info.value.errors[0]["field"] == "timezone"
    event = catalog_event()
    with pytest.raises(ValidationFailed) as info:
        catalog.update_event(event.id, {"timezone": zone})
    assert info.value.errors[0]["field"] == "timezone"
    assert Event.get_by_id(event.id).timezone == "UTC"


@pytest.mark.parametrize("status", ["closed", "canceled"])
def test_an_event_cannot_be_created_closed_or_canceled(db, status):
    with pytest.raises(ValidationFailed) as info:
        catalog_event(status=status)
    assert info.value.errors[0]["field"] == "status"


LEGAL_MOVES = [(a, b) for a, targets in TRANSITIONS.items() for b in sorted(targets)]
ILLEGAL_MOVES = [(a, b) for a, b in itertools.permutations(EVENT_STATUSES, 2) if (a, b) not in LEGAL_MOVES]


def test_the_lifecycle_allows_exactly_the_documented_moves():
    assert sorted(LEGAL_MOVES) == sorted([
        ("draft", "scheduled"), ("scheduled", "on_sale"), ("on_sale", "closed"),
        ("draft", "canceled"), ("scheduled", "canceled"), ("on_sale", "canceled"),
    ])


@pytest.mark.parametrize(("current", "target"), LEGAL_MOVES)
def test_every_legal_status_move_is_applied(db, current, target):
    event = catalog_event()
    set_status(event, current)
    assert catalog.update_event(event.id, {"status": target}).status == target
    assert Event.get_by_id(event.id).status == target


@pytest.mark.parametrize(("current", "target"), ILLEGAL_MOVES)
def test_every_other_status_move_is_an_illegal_transition(db, current, target):
    event = catalog_event()
    set_status(event, current)
    with pytest.raises(IllegalTransition) as info:
        catalog.update_event(event.id, {"status": target})
    assert info.value.status == 409
    assert Event.get_by_id(event.id).status == current


@pytest.mark.parametrize("status", EVENT_STATUSES)
def test_moving_to_the_same_status_changes_nothing(db, status):
    event = catalog_event()
    set_status(event, status)
    before = Event.get_by_id(event.id).updated_at
    assert catalog.update_event(event.id, {"status": status}).updated_at == before


def test_an_update_changes_only_the_given_fields_and_bumps_updated_at(db):
    event = catalog_event(description="old")
    updated = catalog.update_event(event.id, {"name": "Knicks vs Nets (rescheduled)", "wave_size": 50})
    assert (updated.name, updated.description, updated.wave_size) == ("Knicks vs Nets (rescheduled)", "old", 50)
    assert updated.updated_at > event.updated_at


def test_moving_on_sale_at_past_the_stored_start_fails_naming_on_sale_at(db):
    event = catalog_event()
    with pytest.raises(ValidationFailed) as info:
        catalog.update_event(event.id, {"on_sale_at": NOW + timedelta(days=40)})
    assert info.value.errors[0]["field"] == "on_sale_at"


def test_moving_the_start_before_the_stored_on_sale_fails_naming_starts_at(db):
    event = catalog_event()
    with pytest.raises(ValidationFailed) as info:
        catalog.update_event(event.id, {"starts_at": NOW + timedelta(hours=1)})
    assert info.value.errors[0]["field"] == "starts_at"


def test_moving_both_times_together_is_checked_against_each_other(db):
    event = catalog_event()
    updated = catalog.update_event(event.id, {"on_sale_at": NOW + timedelta(days=50), "starts_at": NOW + timedelta(days=60)})
    assert updated.on_sale_at == NOW + timedelta(days=50)


def test_updating_an_unknown_event_is_not_found(db):
    with pytest.raises(NotFound):
        catalog.update_event(uuid.uuid4(), {"name": "x"})


def test_a_status_move_that_lost_a_race_is_checked_again_on_fresh_data(db, monkeypatch):
    event = catalog_event(status="scheduled")
    stale = Event.get_by_id(event.id)
    set_status(event, "canceled")  # another admin got there first
    calls = iter([stale])
    real_get = events_module.get_event
    monkeypatch.setattr(events_module, "get_event", lambda eid, public: next(calls, None) or real_get(eid, public=public))
    with pytest.raises(IllegalTransition):
        catalog.update_event(event.id, {"status": "on_sale"})
    assert Event.get_by_id(event.id).status == "canceled"


def test_drafts_are_hidden_from_the_public_but_not_from_admins(db):
    draft = catalog_event()
    with pytest.raises(NotFound):
        catalog.get_event(draft.id, public=True)
    assert catalog.get_event(draft.id, public=False).id == draft.id
    assert catalog.list_events(public=True) == []
    assert [e.id for e in catalog.list_events(public=False)] == [draft.id]


def test_events_are_listed_by_start_time(db):
    late = catalog_event(name="Late", status="scheduled", starts_at=NOW + timedelta(days=60))
    early = catalog_event(name="Early", status="on_sale", starts_at=NOW + timedelta(days=10))
    assert [e.id for e in catalog.list_events(public=True)] == [early.id, late.id]


# -- tiers ----------------------------------------------------------------------------------

def test_a_tier_for_an_unknown_event_fails_naming_event_id(db):
    with pytest.raises(ValidationFailed) as info:
        catalog.create_tier(event_id=uuid.uuid4(), name="Floor", price_cents=1, capacity=1)
    assert info.value.errors[0]["field"] == "event_id"


@pytest.mark.parametrize("status", ["closed", "canceled"])
def test_no_tier_can_be_added_to_a_finished_event(db, status):
    event = catalog_event()
    set_status(event, status)
    with pytest.raises(Conflict):
        catalog_tier(event)
    assert TicketTier.select().count() == 0


def test_tiers_are_listed_by_price_then_name(db):
    event, other = catalog_event(), catalog_event(name="Other")
    b = catalog_tier(event, name="B", price_cents=5_000)
    a = catalog_tier(event, name="A", price_cents=5_000)
    cheap = catalog_tier(event, name="Z", price_cents=100)
    elsewhere = catalog_tier(other, price_cents=1)
    assert [t.id for t in catalog.list_tiers(event.id)] == [cheap.id, a.id, b.id]
    assert [t.id for t in catalog.list_tiers()] == [elsewhere.id, cheap.id, a.id, b.id]
    assert catalog.list_tiers(uuid.uuid4()) == []


def test_capacity_cannot_drop_below_sold_plus_held(db):
    tier = catalog_tier(catalog_event(), capacity=100)
    TicketTier.update(sold=30, held=20).where(TicketTier.id == tier.id).execute()
    with pytest.raises(Conflict) as info:
        catalog.update_tier(tier.id, {"capacity": 49})
    assert (info.value.status, info.value.extra) == (409, {"sold": 30, "held": 20})
    assert TicketTier.get_by_id(tier.id).capacity == 100
    assert catalog.update_tier(tier.id, {"capacity": 50}).capacity == 50


def test_updating_a_tier_changes_only_the_given_fields(db):
    tier = catalog_tier(catalog_event(), per_user_limit=4)
    updated = catalog.update_tier(tier.id, {"price_cents": 12_345})
    assert (updated.price_cents, updated.per_user_limit, updated.name) == (12_345, 4, "Floor")


def test_updating_or_reading_an_unknown_tier_is_not_found(db):
    with pytest.raises(NotFound):
        catalog.update_tier(uuid.uuid4(), {"capacity": 10})
    with pytest.raises(NotFound):
        catalog.get_tier(uuid.uuid4())


# -- documents ------------------------------------------------------------------------------

def test_public_documents_leave_out_bookkeeping(db):
    event = catalog_event(status="on_sale", starts_at=datetime(2030, 6, 1, 19, 30, tzinfo=UTC))
    catalog_tier(event)
    doc = catalog.public_event_document(event.id)
    assert "created_at" not in doc and "updated_at" not in doc
    assert set(doc["tiers"][0]) == {"id", "event_id", "name", "price_cents", "capacity", "per_user_limit"}
    assert doc["starts_at"] == "2030-06-01T19:30:00.000Z"
    assert doc["id"] == str(event.id)


def test_the_public_catalogue_gives_price_ranges_and_sold_out_flags(db):
    full = catalog_event(name="Full", status="on_sale")
    for price in (5_000, 9_000):
        tier = catalog_tier(full, name=str(price), price_cents=price, capacity=10)
        TicketTier.update(sold=10).where(TicketTier.id == tier.id).execute()
    empty = catalog_event(name="No tiers yet", status="scheduled")
    by_name = {e["name"]: e for e in catalog.public_catalog()}
    assert (by_name["Full"]["price_min_cents"], by_name["Full"]["price_max_cents"], by_name["Full"]["sold_out"]) == (5_000, 9_000, True)
    assert (by_name[empty.name]["price_min_cents"], by_name[empty.name]["sold_out"]) == (None, False)


def test_an_event_with_any_ticket_left_is_not_sold_out(db):
    event = catalog_event(status="on_sale")
    gone = catalog_tier(event, capacity=10)
    catalog_tier(event, name="Left", capacity=10)
    TicketTier.update(sold=10).where(TicketTier.id == gone.id).execute()
    assert catalog.public_catalog()[0]["sold_out"] is False


def test_admin_documents_carry_timestamps_and_counters(db):
    event = catalog_event()
    catalog_tier(event)
    doc = catalog.admin_event_document(event.id)
    assert doc["created_at"].endswith("Z") and doc["status"] == "draft"
    assert (doc["tiers"][0]["sold"], doc["tiers"][0]["held"]) == (0, 0)
    assert [d["id"] for d in catalog.admin_catalog()] == [str(event.id)]
