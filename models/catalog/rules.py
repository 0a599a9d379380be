"""The catalogue's bounds and the event status lifecycle, shared by the request schemas
(web/schemas/catalog.py) and the services, so a rule is written down once."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from models.errors import IllegalTransition

#: Longest event name / venue, in characters (the column width).
EVENT_NAME_MAX = 200
VENUE_MAX = 200
#: Longest event description, in characters.
DESCRIPTION_MAX = 5000
#: Longest tier name, in characters (the column width).
TIER_NAME_MAX = 100
#: Highest tier price, in cents (one million in the currency: a typo guard).
PRICE_CENTS_MAX = 100_000_000
#: Tickets in one tier.
CAPACITY_MIN, CAPACITY_MAX = 1, 1_000_000
#: Tickets one reservation of a tier may hold.
PER_USER_LIMIT_MIN, PER_USER_LIMIT_MAX = 1, 100
#: Per-event admission overrides (NULL = the WAVE_SIZE / WAVE_INTERVAL_S defaults).
WAVE_SIZE_MIN, WAVE_SIZE_MAX = 1, 100_000
#: Seconds between admission waves.
WAVE_INTERVAL_MIN_S, WAVE_INTERVAL_MAX_S = 0.5, 3600.0
#: Longest per-event self-cancel window, in seconds (a year).
SELF_CANCEL_WINDOW_MAX_S = 366 * 24 * 3600
#: Timestamps outside these years are typos (and would overflow time-zone arithmetic).
YEAR_MIN, YEAR_MAX = 2000, 2100

#: The venue's time zone when none is given (and for events made before zones were stored).
DEFAULT_TIMEZONE = "UTC"
#: Longest IANA zone name we store, in characters (the column width; the longest today is 32).
TIMEZONE_MAX = 64


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this server knows (e.g. America/Los_Angeles)."""
    return isinstance(name, str) and name in _zone_names()


#: status -> statuses it may move to (a move to the same status is a no-op, not listed).
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"scheduled", "canceled"}),
    "scheduled": frozenset({"on_sale", "canceled"}),
    "on_sale": frozenset({"closed", "canceled"}),
    "closed": frozenset(),
    "canceled": frozenset(),
}


def check_transition(current: str, target: str) -> None:
    """Allow ``current -> target`` (or staying put); raises IllegalTransition (409) otherwise."""
    if target == current:
        return
    if target not in TRANSITIONS.get(current, frozenset()):
        allowed = sorted(TRANSITIONS.get(current, frozenset()))
        raise IllegalTransition(
            f"An event cannot move from {current} to {target}"
            + (f" (allowed: {', '.join(allowed)})" if allowed else f" ({current} is final)"),
            field="status", current=current, target=target, allowed=allowed,
        )
