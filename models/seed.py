"""The ten sample events of the product overview (4 NBA games, 6 concerts), timed relative
to now: half already on sale, half opening minutes to days from now, all starting weeks ahead.

Ed Sheeran's acoustic night has only 40 tickets, so a demo can sell it out in a minute;
Taylor Swift opens two minutes after seeding, so the waiting room fills up before the drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.catalog import create_event, create_tier
from models.db import database
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


HOUR, DAY = 60, 24 * 60

SAMPLE_EVENTS: tuple[SampleEvent, ...] = (
    SampleEvent(
        "Lakers vs Warriors", "Crypto.com Arena, Los Angeles, CA",
        "Pacific Division rivals meet under the lights in downtown LA. LeBron and the Lakers host Steph Curry's Warriors.",
        "America/Los_Angeles", 21, (19, 30), -30,
        (("Upper Level", 8_900, 1_200, 6), ("Lower Level", 24_900, 600, 4), ("Courtside", 150_000, 40, 2)),
    ),
    SampleEvent(
        "Celtics vs Heat", "TD Garden, Boston, MA",
        "A rematch of the Eastern Conference's fiercest recent playoff rivalry, on the parquet floor in Boston.",
        "America/New_York", 18, (19, 30), 5,
        (("Balcony", 6_500, 900, 6), ("Loge", 17_500, 500, 4), ("Floor", 95_000, 60, 2)),
    ),
    SampleEvent(
        "Knicks vs Nets", "Madison Square Garden, New York, NY",
        "The Battle of the Boroughs: Manhattan against Brooklyn at the World's Most Famous Arena.",
        "America/New_York", 25, (19, 30), -2 * HOUR,
        (("300 Level", 9_500, 1_000, 6), ("200 Level", 22_500, 600, 4), ("100 Level", 45_000, 300, 4), ("Courtside", 250_000, 24, 2)),
    ),
    SampleEvent(
        "Bulls vs Bucks", "United Center, Chicago, IL",
        "Central Division showdown: the Bulls host Giannis and the Bucks on a Friday night in Chicago.",
        "America/Chicago", 32, (19, 0), 1 * DAY,
        (("300 Level", 5_500, 1_200, 6), ("100 Level", 18_500, 500, 4)),
    ),
    SampleEvent(
        "Taylor Swift | The Eras Tour", "SoFi Stadium, Inglewood, CA",
        "A three-hour journey through every era of Taylor Swift's career. Expect a queue: sales open in waves.",
        "America/Los_Angeles", 45, (19, 0), 2,
        (("Upper Level", 14_900, 3_000, 4), ("Lower Level", 29_900, 2_000, 4), ("Floor GA", 49_900, 1_500, 4), ("VIP Package", 89_900, 200, 2)),
        wave_size=200, wave_interval_s=5.0,
    ),
    SampleEvent(
        "The Weeknd: After Hours til Dawn", "MetLife Stadium, East Rutherford, NJ",
        "The Weeknd brings his stadium tour to New Jersey, with a full production of the After Hours and Dawn FM albums.",
        "America/New_York", 28, (19, 30), -45,
        (("Upper Level", 12_500, 2_500, 4), ("Lower Level", 22_500, 1_500, 4), ("Floor GA", 35_000, 1_000, 4)),
    ),
    SampleEvent(
        "Beyoncé: Renaissance World Tour", "Mercedes-Benz Stadium, Atlanta, GA",
        "Beyoncé's Renaissance comes to Atlanta: a dance-floor spectacle in silver, with the full band and dancers.",
        "America/New_York", 52, (20, 0), 30,
        (("Upper Level", 13_500, 2_500, 4), ("Lower Level", 27_500, 1_500, 4), ("Club Renaissance", 65_000, 300, 2)),
    ),
    SampleEvent(
        "Drake & 21 Savage: It's All a Blur Tour", "Scotiabank Arena, Toronto, ON",
        "Drake returns home to Toronto with 21 Savage for a night of hits from Her Loss and a career-spanning set.",
        "America/Toronto", 16, (20, 0), -10,
        (("Upper Bowl", 9_900, 1_500, 6), ("Lower Bowl", 19_900, 1_000, 4), ("Floor GA", 29_900, 800, 4)),
    ),
    SampleEvent(
        "Bad Bunny: Most Wanted Tour", "Kaseya Center, Miami, FL",
        "Bad Bunny's arena tour stops in Miami: reggaeton, trap and the songs of Nadie Sabe Lo Que Va a Pasar Mañana.",
        "America/New_York", 38, (20, 0), 3 * DAY,
        (("Upper Level", 11_000, 1_200, 4), ("Lower Level", 24_500, 800, 4), ("Floor", 39_500, 600, 4)),
    ),
    SampleEvent(
        "Ed Sheeran: An Intimate Acoustic Evening", "The Troubadour, West Hollywood, CA",
        "Just Ed, a guitar and a loop pedal in a 40-ticket room. Small enough to sell out during a demo.",
        "America/Los_Angeles", 14, (19, 0), -5,
        (("General Admission", 7_500, 30, 2), ("Front Row", 15_000, 10, 2)),
    ),
)


def seed(if_empty: bool, *, now: datetime | None = None) -> int:
    """Create the sample events and tiers, timed relative to ``now`` (default: the current time).
    With ``if_empty``, do nothing when any event exists. Returns how many events were created."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    with database.atomic():
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
