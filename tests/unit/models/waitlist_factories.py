"""Helpers for the waitlist and refund tests (no tests here): a sold-out tier, fans on its
waitlist, and the drainer run in the test's thread."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.db import database
from models.reservations.counters import rebuild_locked
from models.tables import Reservation, TicketTier, WaitlistEntry
from models.waitlist.entries import _join_row
from tests.unit.models.test_reservations_support import drain_now, make_event, make_tier, request


def sold_out_tier(rt: Any, capacity: int = 3, **tier_fields: Any) -> tuple[TicketTier, list[str]]:
    """A tier whose ``capacity`` tickets are all held, one each by fans holder-0.., via the drainer.
    Returns (tier, the holds' reservation ids)."""
    event = make_event()
    tier = make_tier(event, capacity=capacity, **tier_fields)
    ids = [request(rt, tier, f"holder-{i}") for i in range(capacity)]
    drain_now(rt, event.id)
    assert Reservation.select().where(Reservation.id.in_(ids), Reservation.status == "held").count() == capacity
    return tier, ids


def join_in_db(event_id: str, tier_id: str, user_id: str, quantity: int, position: int | None,
               *, now: datetime | None = None) -> tuple[WaitlistEntry, bool]:
    """A waitlist join's database part, as production makes it (models.waitlist.entries._join_row),
    with the entry read back. Returns (entry, created)."""
    entry_id, created = _join_row(event_id, tier_id, user_id, quantity, position, now=now)
    return WaitlistEntry.get_by_id(entry_id), created


def wait(rt: Any, tier: TicketTier, user_id: str, quantity: int = 1, position: int | None = None) -> WaitlistEntry:
    """Put a fan on the tier's waitlist (as the web tier would after its checks) and make Redis's
    waiting counts agree."""
    entry, created = join_in_db(str(tier.event_id), str(tier.id), user_id, quantity, position)
    assert created
    rebuild_locked(rt.redis, rt.keys, str(tier.event_id))
    return entry


def entry_of(entry: WaitlistEntry) -> WaitlistEntry:
    return WaitlistEntry.get_by_id(entry.id)


def offers(tier: TicketTier) -> list[tuple[str, int]]:
    """(user, quantity) of every offer made on the tier, in the order they were made."""
    rows = WaitlistEntry.select().where(WaitlistEntry.tier == tier.id, WaitlistEntry.reservation_id.is_null(False))
    return [(e.user_id, e.quantity) for e in sorted(rows, key=lambda e: (e.offered_at, e.rank))]


def statements_sent(monkeypatch: Any) -> list[str]:
    """The first word of every statement the database is sent from now on (any thread), until
    ``monkeypatch`` undoes it."""
    sent: list[str] = []
    execute_sql = database.obj.execute_sql

    def spy(sql: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(sql.split(None, 1)[0].upper())
        return execute_sql(sql, *args, **kwargs)

    monkeypatch.setattr(database.obj, "execute_sql", spy)
    return sent
