"""Offering returned tickets to the waitlist, in order, by the event's drainer.

The drainer meets an "offers" marker in the event's mailbox (models/waitlist/nudge.py) and,
still under the event lease, runs :func:`offer_returns` before deciding the requests of that
batch. One database transaction:

1. settles the offers that ended: converted -> ``purchased`` (taken), anything else ->
   ``lapsed`` (the hold expired or was released: the fan leaves the waitlist);
2. per tier with fans waiting, walks the waitlist by ``rank`` and offers what is free
   (capacity - sold - held, read in the transaction) to each fan whose quantity fits, whose
   per-event cap allows it and who has no live reservation of the event; a fan skipped keeps
   the place. An offer is a hold like any other (a ``reservations`` row, ``held``, expiring
   after OFFER_TTL_S), taken by the same conditional ``UPDATE ... WHERE sold + held + q <=
   capacity`` as every hold, and the entry moves ``waiting -> offered`` by a conditional UPDATE.

So a redelivered or concurrent step offers nothing twice (the entry is no longer waiting) and
never oversells (the tier's CHECK and conditional UPDATE). Redis follows after the commit
(wl_offer_apply.lua). While a tier has fans waiting, the decide script answers new requests of
that tier ``sold_out``: what comes back goes to the waitlist first.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import peewee

from models.catalog.statuses import SELLING_STATUSES
from models.db import database
from models.keys import reservation_id
from models.metrics import WAITLIST_OFFERS
from models.redis import scripts
from models.reservations.records import DECIDED_RECORD_TTL_S, to_ms, truncate_ms
from models.sql import write_transaction
from models.tables import Event, Order, Reservation, TicketTier, WaitlistEntry, utcnow
from models.timestamps import iso

log = logging.getLogger("ticketdrop.waitlist")

#: Waiting entries read per query of the offer walk.
WALK_PAGE = 100


@dataclass(frozen=True)
class Offer:
    """A hold granted to a waiting fan."""

    entry_id: str
    reservation_id: str
    event_id: str
    tier_id: str
    user_id: str
    quantity: int
    expires_at: datetime


@dataclass
class OfferStep:
    offers: list[Offer]
    taken: int = 0
    lapsed: int = 0


def offer_returns(rt: Any, event_id: str, *, now: datetime | None = None) -> OfferStep:
    """Settle ended offers and offer the event's free tickets to its waitlists (see the module
    docstring). Call under the event lease (the drainer); sync. Returns what it did."""
    now = truncate_ms(now or utcnow())
    with write_transaction():
        taken, lapsed = settle_ended_offers(event_id=event_id, now=now)
        event = Event.select(Event.status, Event.paused).where(Event.id == event_id).first()
        offers: list[Offer] = []
        if event is not None and event.status in SELLING_STATUSES and not event.paused:
            offers = _make_offers(rt, event_id, now)
    apply_offers(rt.redis, rt.keys, rt.settings, event_id, offers)
    if offers:
        WAITLIST_OFFERS.labels("made").inc(len(offers))
        log.info("waitlist offers made", extra={"event_id": event_id, "offers": len(offers),
                                                 "tickets": sum(o.quantity for o in offers)})
    return OfferStep(offers, taken, lapsed)


def settle_ended_offers(*, event_id: str | None = None, now: datetime | None = None) -> tuple[int, int]:
    """Move ``offered`` entries whose hold ended to ``purchased`` (converted) or ``lapsed``
    (expired, released). Inside or outside a transaction; idempotent. Returns (taken, lapsed)."""
    now = now or utcnow()
    query = (WaitlistEntry.select(WaitlistEntry.id, Reservation.status.alias("hold"))
             .join(Reservation, on=(WaitlistEntry.reservation_id == Reservation.id))
             .where(WaitlistEntry.status == "offered", Reservation.status != "held"))
    if event_id is not None:
        query = query.where(WaitlistEntry.event == event_id)
    ended: dict[str, list[Any]] = {"purchased": [], "lapsed": []}
    for row in query.objects():
        ended["purchased" if row.hold == "converted" else "lapsed"].append(row.id)
    moved = {}
    for status, ids in ended.items():
        moved[status] = (WaitlistEntry.update(status=status, updated_at=now)
                         .where(WaitlistEntry.id.in_(ids), WaitlistEntry.status == "offered").execute()) if ids else 0
    if moved["purchased"]:
        WAITLIST_OFFERS.labels("taken").inc(moved["purchased"])
    if moved["lapsed"]:
        WAITLIST_OFFERS.labels("lapsed").inc(moved["lapsed"])
    return moved["purchased"], moved["lapsed"]


def _make_offers(rt: Any, event_id: str, now: datetime) -> list[Offer]:
    tier_ids = [t for (t,) in WaitlistEntry.select(WaitlistEntry.tier).distinct()
                .where(WaitlistEntry.event == event_id, WaitlistEntry.status == "waiting").tuples()]
    if not tier_ids:
        return []
    expires = now + timedelta(seconds=rt.settings.offer_ttl_s)
    fans = _Fans(rt, event_id)
    offers: list[Offer] = []
    for tier in TicketTier.select().where(TicketTier.id.in_(tier_ids)).order_by(TicketTier.id):
        offers += _offer_tier(tier, fans, now, expires)
    return offers


class _Fans:
    """Who may take an offer: tickets held + bought per fan, and fans with a live reservation
    (a hold in the database, or a request still pending in Redis), read for each page."""

    def __init__(self, rt: Any, event_id: str) -> None:
        self.rt, self.event_id = rt, event_id
        self.limit = rt.settings.event_purchase_limit
        self.counts: Counter[str] = Counter()
        self.live: set[str] = set()
        self.known: set[str] = set()

    def load(self, users: set[str]) -> None:
        users = users - self.known
        if not users:
            return
        self.known |= users
        for user, quantity in (Reservation.select(Reservation.user_id, peewee.fn.SUM(Reservation.quantity))
                               .where(Reservation.event == self.event_id, Reservation.status == "held",
                                      Reservation.user_id.in_(users)).group_by(Reservation.user_id).tuples()):
            self.counts[user] += int(quantity or 0)
            self.live.add(user)
        for user, quantity in (Order.select(Order.user_id, peewee.fn.SUM(Order.quantity))
                               .where(Order.event == self.event_id, Order.status == "paid", Order.user_id.in_(users))
                               .group_by(Order.user_id).tuples()):
            self.counts[user] += int(quantity or 0)
        ordered = sorted(users)
        slots = self.rt.redis.hmget(self.rt.keys.live_reservations(self.event_id), ordered)
        pending = {rid: user for user, rid in zip(ordered, slots, strict=True) if rid}
        if pending:
            # A slot naming a reservation the database does not have is a request still queued.
            stored = {str(r) for (r,) in Reservation.select(Reservation.id)
                      .where(Reservation.id.in_(list(pending))).tuples()}
            self.live |= {user for rid, user in pending.items() if rid not in stored}

    def may_take(self, user: str, quantity: int) -> bool:
        return user not in self.live and self.counts[user] + quantity <= self.limit

    def took(self, user: str, quantity: int) -> None:
        self.counts[user] += quantity
        self.live.add(user)


def _offer_tier(tier: TicketTier, fans: _Fans, now: datetime, expires: datetime) -> list[Offer]:
    free = tier.capacity - tier.sold - tier.held
    offers: list[Offer] = []
    after: tuple[int, Any] | None = None
    while free > 0:
        page = WaitlistEntry.select().where(WaitlistEntry.tier == tier.id, WaitlistEntry.status == "waiting",
                                            WaitlistEntry.quantity <= free)
        if after is not None:
            page = page.where((WaitlistEntry.rank > after[0])
                              | ((WaitlistEntry.rank == after[0]) & (WaitlistEntry.id > after[1])))
        entries = list(page.order_by(WaitlistEntry.rank, WaitlistEntry.id).limit(WALK_PAGE))
        if not entries:
            break
        fans.load({e.user_id for e in entries})
        for entry in entries:
            after = (entry.rank, entry.id)
            if entry.quantity > free or not fans.may_take(entry.user_id, entry.quantity):
                continue  # skipped for now: keeps the place
            try:
                offer = _offer(tier, entry, now, expires)
            except _NoRoom:
                log.error("waitlist offer refused by the tier's counters", extra={"tier_id": str(tier.id)})
                return offers  # the tier has less room than read (cannot happen under the lease)
            if offer is None:
                continue  # the entry left the waitlist meanwhile
            offers.append(offer)
            fans.took(entry.user_id, entry.quantity)
            free -= entry.quantity
            if free <= 0:
                break
    return offers


class _NoRoom(Exception):
    """The tier's conditional UPDATE refused the hold."""


def _offer(tier: TicketTier, entry: WaitlistEntry, now: datetime, expires: datetime) -> Offer | None:
    """Grant one hold to ``entry``'s fan in a savepoint. None if the entry is no longer waiting;
    raises _NoRoom (savepoint rolled back) if the tier cannot take it."""
    rid = reservation_id(str(entry.event_id))  # its record shares the event's cluster slot
    q = entry.quantity
    with database.atomic():
        moved = (WaitlistEntry.update(status="offered", reservation_id=rid, offered_at=now, offer_expires_at=expires,
                                      updated_at=now)
                 .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == "waiting").execute())
        if not moved:
            return None
        if not (TicketTier.update(held=TicketTier.held + q, updated_at=now)
                .where(TicketTier.id == tier.id, (TicketTier.sold + TicketTier.held + q) <= TicketTier.capacity)
                .execute()):
            raise _NoRoom
        Reservation.insert(id=rid, event=entry.event_id, tier=tier.id, user_id=entry.user_id, token="", quantity=q,
                           status="held", reason=None, expires_at=expires, request_id=None, created_at=now,
                           updated_at=now, price_cents=tier.price_cents).execute()
    log.info("waitlist offer", extra={"event_id": str(entry.event_id), "tier_id": str(tier.id),
                                      "user_id": entry.user_id, "entry_id": str(entry.id), "reservation_id": str(rid),
                                      "quantity": q, "rank": entry.rank})
    return Offer(str(entry.id), str(rid), str(entry.event_id), str(tier.id), entry.user_id, q, expires)


def apply_offers(redis: Any, keys: Any, settings: Any, event_id: str, offers: list[Offer]) -> None:
    """Make Redis follow committed offers (wl_offer_apply.lua; skips offers already applied)."""
    if not offers:
        return
    args: list[Any] = [DECIDED_RECORD_TTL_S + settings.offer_ttl_s]
    for o in offers:
        args += [o.reservation_id, o.event_id, o.tier_id, o.user_id, o.quantity, iso(o.expires_at), to_ms(o.expires_at)]
    scripts(redis).get("wl_offer_apply")(
        keys=[keys.stock(event_id), keys.user_counts(event_id), keys.live_reservations(event_id), keys.waitlist(event_id),
              *(keys.reservation(o.reservation_id) for o in offers)],
        args=args)
