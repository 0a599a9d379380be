"""The Redis stock counters, rebuilt from the database (the truth) when missing or drifting.

``keys.stock(e)``: ``<tier>`` = tickets available (capacity - sold - held), ``held:<tier>`` =
tickets in live holds. ``keys.user_counts(e)``: user -> tickets in live holds + paid orders +
tickets received by transfer (models/ticket_transfer.py).
``keys.live_reservations(e)``: user -> the live (pending or held) reservation id.
``keys.waitlist(e)``: tier -> fans waiting on its waitlist, and ``tier:q`` -> of them, those
waiting for q tickets (models/waitlist/nudge.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from peewee import fn

from models.errors import Unavailable
from models.keys import Keys
from models.reservations.kick import drain_if_waiting
from models.reservations.lease import EventLease
from models.tables import Order, Reservation, Ticket, TicketTier, WaitlistEntry

log = logging.getLogger("ticketdrop.inventory")

#: How long a rebuild waits for the event's drainer to let go, in seconds.
REBUILD_WAIT_S = 10.0
#: Ids per ``IN (...)`` query.
CHUNK = 500
_DECISION_FIELDS = ("decided", "decided_reason", "decided_expires_at", "decided_expires_ms")


def rebuild_counters(redis: Any, keys: Keys, event_id: str) -> None:
    """Rebuild the event's counters from the database, under the event lease (sync).

    Raises Unavailable if the event's drainer keeps the lease for REBUILD_WAIT_S.
    """
    lease = EventLease(redis, keys, str(event_id))
    if not lease.acquire(REBUILD_WAIT_S):
        raise Unavailable(f"event {event_id} is busy deciding reservations; try again", retry_after=1)
    try:
        with lease.kept():
            rebuild_locked(redis, keys, str(event_id))
    finally:
        lease.release()
    drain_if_waiting(redis, keys, str(event_id))


def _received(event_id: str) -> list[tuple[str, int]]:
    """(user, tickets of the event they own from other fans' orders, void ones not counted)."""
    return list(Ticket.select(Ticket.user_id, fn.COUNT(Ticket.id)).join(Order, on=(Ticket.order == Order.id))
                .where(Ticket.event == event_id, Ticket.user_id != Order.user_id, Ticket.status != "void")
                .group_by(Ticket.user_id).tuples())


def rebuild_locked(redis: Any, keys: Keys, event_id: str) -> dict[str, int]:
    """Rebuild while the caller holds the event lease. Returns how many stock fields changed.

    Requests still in the mailbox keep their live slot. One decided by a drainer that died
    before writing it to the database is undecided, so it is decided again against the fresh
    counters (its earlier decision counted against counters that no longer exist).
    """
    tiers = list(TicketTier.select(TicketTier.id, TicketTier.capacity, TicketTier.sold, TicketTier.held)
                 .where(TicketTier.event == event_id))
    holds = list(Reservation.select(Reservation.id, Reservation.user_id, Reservation.quantity)
                 .where(Reservation.event == event_id, Reservation.status == "held"))
    paid = (Order.select(Order.user_id, fn.SUM(Order.quantity)).where(Order.event == event_id, Order.status == "paid")
            .group_by(Order.user_id).tuples())
    stock: dict[str, int] = {}
    for t in tiers:
        stock[str(t.id)] = t.capacity - t.sold - t.held
        stock[f"held:{t.id}"] = t.held
    users: Counter[str] = Counter()
    for user, quantity in paid:
        users[user] += int(quantity or 0)
    for h in holds:
        users[h.user_id] += h.quantity
    waiting: Counter[str] = Counter()
    for tier, quantity, n in (WaitlistEntry.select(WaitlistEntry.tier, WaitlistEntry.quantity, fn.COUNT(WaitlistEntry.id))
                              .where(WaitlistEntry.event == event_id, WaitlistEntry.status == "waiting")
                              .group_by(WaitlistEntry.tier, WaitlistEntry.quantity).tuples()):
        waiting[str(tier)] += n
        waiting[f"{tier}:{quantity}"] += n
    for user, count in _received(event_id):  # transferred tickets count for their receiver
        users[user] += count
    live, undecide = _mailbox_state(redis, keys, event_id)
    live.update({h.user_id: str(h.id) for h in holds})

    before = redis.hgetall(keys.stock(event_id))
    pipe = redis.pipeline(transaction=True)
    pipe.delete(keys.stock(event_id), keys.user_counts(event_id), keys.live_reservations(event_id), keys.waitlist(event_id))
    if waiting:
        pipe.hset(keys.waitlist(event_id), mapping=waiting)
    if stock:
        pipe.hset(keys.stock(event_id), mapping=stock)
    if users:
        pipe.hset(keys.user_counts(event_id), mapping={u: n for u, n in users.items() if n > 0})
    if live:
        pipe.hset(keys.live_reservations(event_id), mapping=live)
    for rid in undecide:
        pipe.hdel(keys.reservation(rid), *_DECISION_FIELDS)
    pipe.execute()
    drift = sum(1 for field, value in stock.items() if before.get(field) != str(value))
    drift += sum(1 for field in before if field not in stock)
    if drift:
        log.info("inventory counters rebuilt", extra={"event_id": event_id, "fields_changed": drift,
                                                      "undecided": len(undecide)})
    return {"drift": drift, "undecided": len(undecide)}


def _mailbox_state(redis: Any, keys: Keys, event_id: str) -> tuple[dict[str, str], list[str]]:
    """(user -> pending id, ids decided in Redis but absent from the database)."""
    ids = redis.lrange(keys.mailbox(event_id), 0, -1)
    if not ids:
        return {}, []
    pipe = redis.pipeline(transaction=False)
    for rid in ids:
        pipe.hmget(keys.reservation(rid), "status", "user_id", "decided")
    live: dict[str, str] = {}
    decided: list[str] = []
    for rid, (status, user, decision) in zip(ids, pipe.execute(), strict=True):
        if status != "pending" or not user:
            continue
        live.setdefault(user, rid)
        if decision:
            decided.append(rid)
    stored: set[str] = set()
    for i in range(0, len(decided), CHUNK):
        chunk = decided[i:i + CHUNK]
        stored.update(str(r.id) for r in Reservation.select(Reservation.id).where(Reservation.id.in_(chunk)))
    return live, [rid for rid in decided if rid not in stored]


def ensure_counters(redis: Any, keys: Keys, event_id: str) -> bool:
    """Rebuild if the stock hash is missing (caller holds the lease). True if it rebuilt."""
    if redis.exists(keys.stock(event_id)):
        return False
    rebuild_locked(redis, keys, event_id)
    return True


def parse_stock(raw: dict[str, str]) -> dict[str, tuple[int, int]]:
    """The stock hash as tier id -> (available, held)."""
    out: dict[str, tuple[int, int]] = {}
    for field, value in raw.items():
        if not field.startswith("held:"):
            out[field] = (int(value), int(raw.get(f"held:{field}", 0)))
    return out


def database_stock(event_id: str) -> dict[str, tuple[int, int]]:
    """tier id -> (available, held) read from the database (blocking)."""
    rows = TicketTier.select(TicketTier.id, TicketTier.capacity, TicketTier.sold, TicketTier.held).where(
        TicketTier.event == event_id)
    return {str(t.id): (t.capacity - t.sold - t.held, t.held) for t in rows}
