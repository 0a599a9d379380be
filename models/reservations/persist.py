"""Write a decided batch in one database transaction; the database has the last word.

Tier counters move only by conditional UPDATEs (``sold + held + q <= capacity``), inside the
transaction that inserts the reservation rows, so even with Redis flushed or wrong nothing is
oversold: a hold the database refuses is written as rejected (sold_out) instead.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import peewee

from models import sql
from models.catalog.statuses import FINISHED_STATUSES
from models.db import database
from models.reservations.records import from_ms
from models.tables import Event, Reservation, TicketTier

log = logging.getLogger("ticketdrop.reservations")


@dataclass(frozen=True)
class Decision:
    """One request as the decide script returned it (Redis strings)."""

    id: str
    decision: str  # held | rejected | "" (drop: record gone or no longer pending)
    reason: str
    expires_at: str
    expires_ms: str
    tier_id: str
    user_id: str
    quantity: str
    token: str
    created_ms: str
    request_id: str
    position: str  # the fan's waiting-room position ("" if unknown)


@dataclass(frozen=True)
class Final:
    """What the database settled for one request."""

    status: str
    reason: str | None
    expires_at: datetime | None


@dataclass
class BatchResult:
    finals: dict[str, Final]
    #: tier id -> (available, held) read inside the transaction, after its updates.
    tiers: dict[str, tuple[int, int]]
    #: Holds Redis granted that the database refused (among ``written``).
    refused: int
    #: Ids whose rows this call inserted. A batch decided twice (a redelivery, or a second
    #: drainer after the lease vanished) writes each row once, so outcomes are counted from these.
    written: frozenset[str]


def persist_batch(event_id: str, decisions: list[Decision], now: datetime) -> BatchResult:
    """Insert the decided rows and move tier counters in one transaction (idempotent by id).

    A concurrent drainer of the same batch (after a lease takeover) makes one of the two
    transactions fail on the primary key; that one retries once and finds the rows written.
    """
    decided = [d for d in decisions if d.decision]
    try:
        with sql.write_transaction():
            result = _persist(event_id, decided, now)
    except peewee.IntegrityError:
        log.warning("batch written concurrently by another drainer; re-reading", extra={"event_id": event_id})
        with sql.write_transaction():
            result = _persist(event_id, decided, now)
    if result.refused:  # told once the transaction stands (a rolled-back attempt refused nothing)
        log.warning("database refused holds the Redis gate granted", extra={"event_id": event_id, "refused": result.refused})
    return result


def _persist(event_id: str, decided: list[Decision], now: datetime) -> BatchResult:
    ids = [d.id for d in decided]
    finals: dict[str, Final] = {}
    if ids:
        for row in Reservation.select(Reservation.id, Reservation.status, Reservation.reason, Reservation.expires_at).where(
                Reservation.id.in_(ids)):
            finals[str(row.id)] = Final(row.status, row.reason, row.expires_at)
    fresh = [d for d in decided if d.id not in finals]
    holds = [d for d in fresh if d.decision == "held"]
    finished = bool(holds) and Event.select().where(Event.id == event_id, Event.status.in_(FINISHED_STATUSES)).exists()
    refused, prices = ({d.id for d in holds}, {}) if finished else _take_holds(event_id, holds, now)
    rows = []
    for d in fresh:
        held = d.decision == "held" and d.id not in refused
        reason = "event_not_on_sale" if finished and d.decision == "held" else d.reason or "sold_out"
        final = Final("held", None, from_ms(d.expires_ms)) if held else Final("rejected", reason, None)
        finals[d.id] = final
        rows.append((d.id, event_id, d.tier_id, d.user_id, d.token, int(d.quantity), final.status, final.reason,
                     final.expires_at, d.request_id or None, from_ms(d.created_ms) if d.created_ms else now, now,
                     prices.get(d.tier_id) if held else None))
    _insert(rows)
    tiers = {str(t.id): (t.capacity - t.sold - t.held, t.held) for t in TicketTier.select(
        TicketTier.id, TicketTier.capacity, TicketTier.sold, TicketTier.held).where(TicketTier.event == event_id)}
    return BatchResult(finals, tiers, len(refused), frozenset(d.id for d in fresh))


#: Columns of a reservation row, in the order ``_persist`` builds them.
_COLUMNS = (Reservation.id, Reservation.event, Reservation.tier, Reservation.user_id, Reservation.token,
            Reservation.quantity, Reservation.status, Reservation.reason, Reservation.expires_at,
            Reservation.request_id, Reservation.created_at, Reservation.updated_at, Reservation.price_cents)


def _insert(rows: list[tuple]) -> None:
    """One multi-row INSERT. Written by hand because Peewee's query builder spends ~0.3 ms per
    row generating it (most of a batch's CPU); each value still goes through its field's
    ``db_value`` (UUIDs, naive-UTC timestamps), exactly as ``insert_many`` would."""
    if not rows:
        return
    columns = ", ".join(f'"{f.column_name}"' for f in _COLUMNS)
    one = "(" + ", ".join([database.param] * len(_COLUMNS)) + ")"
    sql = f'INSERT INTO "{Reservation._meta.table_name}" ({columns}) VALUES ' + ", ".join([one] * len(rows))
    database.execute_sql(sql, [f.db_value(v) for row in rows for f, v in zip(_COLUMNS, row, strict=True)])


def _take_holds(event_id: str, holds: list[Decision], now: datetime) -> tuple[set[str], dict[str, int]]:
    """Add the holds to their tiers' ``held``; returns (the ids the database refused, tier id ->
    its price per ticket read by that same UPDATE: the price the holds are granted at).

    One UPDATE per tier for the whole batch; if the tier cannot take them all (Redis was
    wrong), one UPDATE per request in FIFO order, so the earliest requests win.
    """
    by_tier: dict[str, list[Decision]] = defaultdict(list)
    for d in holds:
        by_tier[d.tier_id].append(d)
    refused: set[str] = set()
    prices: dict[str, int] = {}
    for tier_id, group in sorted(by_tier.items()):  # tiers locked in id order, as the checkout batch does
        price = _take(tier_id, sum(int(d.quantity) for d in group), now)
        if price is not None:
            prices[tier_id] = price
            continue
        for d in group:
            price = _take(tier_id, int(d.quantity), now)
            if price is None:
                refused.add(d.id)
            else:
                prices[tier_id] = price
    return refused, prices


def _take(tier_id: str, quantity: int, now: datetime) -> int | None:
    """Hold ``quantity`` more of the tier if it has room; returns its price (None: no room).
    The row lock of this UPDATE orders it with any price change, so the price is the one in
    force at the instant the hold is granted."""
    moved = sql.rows("UPDATE ticket_tiers SET held = held + ?, updated_at = ? "
                     "WHERE id = ? AND sold + held + ? <= capacity RETURNING price_cents",
                     [quantity, TicketTier.updated_at.db_value(now), sql.uid(tier_id), quantity])
    return moved[0][0] if moved else None
