"""The waitlist's part of the expiry & recovery sweep (idempotent, every SWEEP_INTERVAL_S).

Returns are offered as they happen (an "offers" marker per return); this is the backstop for a
marker that never came (a crash between a commit and its nudge, a Redis loss): every selling
event whose waitlist has a fan that fits what is free in the database gets a marker. It also
settles ended offers (taken or lapsed) whose event saw no return since, and closes the
waitlists of events that stopped selling.
"""

from __future__ import annotations

import logging
from typing import Any

import peewee

from models.catalog.statuses import SELLING_STATUSES
from models.sql import write_transaction
from models.tables import Event, TicketTier, WaitlistEntry, utcnow
from models.waitlist.nudge import nudge_sync
from models.waitlist.offers import settle_ended_offers

log = logging.getLogger("ticketdrop.waitlist")


def sweep_waitlists(rt: Any) -> dict[str, int]:
    """Settle ended offers, close finished events' waitlists, nudge events with free tickets a
    waiting fan fits. Sync. Returns ``{"taken", "lapsed", "closed", "nudged"}``."""
    with write_transaction():
        taken, lapsed = settle_ended_offers()
    closed = close_finished_waitlists()
    nudged = 0
    smallest = peewee.fn.MIN(WaitlistEntry.quantity)
    rows = (TicketTier.select(TicketTier.event, TicketTier.id, TicketTier.capacity, TicketTier.sold, TicketTier.held,
                              smallest.alias("smallest"))
            .join(WaitlistEntry, on=(WaitlistEntry.tier == TicketTier.id))
            .join(Event, on=(Event.id == TicketTier.event))
            .where(WaitlistEntry.status == "waiting", Event.status.in_(SELLING_STATUSES), Event.paused == False)  # noqa: E712
            .group_by(TicketTier.event, TicketTier.id, TicketTier.capacity, TicketTier.sold, TicketTier.held))
    for tier in rows:
        if tier.capacity - tier.sold - tier.held >= tier.smallest:
            nudged += nudge_sync(rt.redis, rt.keys, str(tier.event_id), str(tier.id))
    if nudged:
        log.warning("waitlist: free tickets not yet offered; drainers nudged", extra={"tiers": nudged})
    return {"taken": taken, "lapsed": lapsed, "closed": closed, "nudged": nudged}


def close_finished_waitlists() -> int:
    """Entries still waiting on events that are closed or canceled become ``canceled`` (their
    offers' holds lapse as any hold does). Returns how many."""
    finished = Event.select(Event.id).where(Event.status.not_in(SELLING_STATUSES))
    return (WaitlistEntry.update(status="canceled", updated_at=utcnow())
            .where(WaitlistEntry.event.in_(finished), WaitlistEntry.status == "waiting").execute())
