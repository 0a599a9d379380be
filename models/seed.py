"""The ten sample events of the product overview (4 NBA games, 6 concerts, listed in
models/sample_events.toml), timed relative to now: half already on sale, half opening minutes
to days from now, all starting weeks ahead.

Ed Sheeran's acoustic night has only 40 tickets, so a demo can sell it out in a minute;
Taylor Swift opens two minutes after seeding, so the waiting room fills up before the drop.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from models.catalog import create_event, create_tier
from models.sql import write_transaction
from models.tables import Event


@dataclass(frozen=True)
class SampleEvent:
    name: str
    venue: str
    description: str
    #: The venue's IANA time zone.
    timezone: str
    #: Days from now to the show, and its start as (hour, minute) on the venue's clock.
    days_ahead: int
    start_local: tuple[int, int]
    #: Minutes from now to the on-sale moment (negative: already on sale).
    on_sale_in_min: int
    #: (name, price in cents, capacity, per-user limit), any order: the API sorts by price.
    tiers: tuple[tuple[str, int, int, int], ...]
    wave_size: int | None = None
    wave_interval_s: float | None = None


#: The sample catalogue: data, not code (one ``[[event]]`` table per SampleEvent).
SAMPLE_FILE = Path(__file__).with_name("sample_events.toml")


def load_samples(path: Path = SAMPLE_FILE) -> tuple[SampleEvent, ...]:
    with path.open("rb") as file:
        rows = tomllib.load(file)["event"]
    return tuple(SampleEvent(**{**row, "start_local": tuple(row["start_local"]),
                                "tiers": tuple(tuple(tier) for tier in row["tiers"])}) for row in rows)


SAMPLE_EVENTS = load_samples()


def seed(if_empty: bool, *, now: datetime | None = None) -> int:
    """Create the sample events and tiers, timed relative to ``now`` (default: the current time).
    With ``if_empty``, do nothing when any event exists. Returns how many events were created."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    with write_transaction():  # two processes seeding at start-up: one waits, then sees the other's events
        if if_empty and Event.select().exists():
            return 0
        for sample in SAMPLE_EVENTS:
            _create(sample, now)
    return len(SAMPLE_EVENTS)


def _create(sample: SampleEvent, now: datetime) -> None:
    zone = ZoneInfo(sample.timezone)
    show_day = (now.astimezone(zone) + timedelta(days=sample.days_ahead)).date()
    starts_at = datetime.combine(show_day, time(*sample.start_local), tzinfo=zone).astimezone(UTC)
    on_sale_at = now + timedelta(minutes=sample.on_sale_in_min)
    event = create_event(
        name=sample.name, venue=sample.venue, description=sample.description,
        starts_at=starts_at, on_sale_at=on_sale_at,
        status="on_sale" if sample.on_sale_in_min <= 0 else "scheduled",
        wave_size=sample.wave_size, wave_interval_s=sample.wave_interval_s, timezone=sample.timezone,
    )
    for name, price_cents, capacity, per_user_limit in sample.tiers:
        create_tier(event_id=event.id, name=name, price_cents=price_cents, capacity=capacity, per_user_limit=per_user_limit)
