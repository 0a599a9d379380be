"""Ending a hold: release (by the fan or a failed payment) and expiry (the sweep). The database
moves first, in a conditional transaction; Redis follows. (A paid checkout converts its holds
in the checkout batch, models/checkout/batch.py.)
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from models import sql
from models.errors import Conflict
from models.keys import Keys
from models.metrics import HOLDS_RELEASED
from models.redis import scripts
from models.reservations.records import DECIDED_RECORD_TTL_S, RELEASE_STATUSES
from models.tables import Reservation, TicketTier, utcnow
from models.waitlist.nudge import nudge_sync

log = logging.getLogger("ticketdrop.reservations")

#: Holds the expiry sweep ends per transaction.
EXPIRE_CHUNK = 200


@dataclass(frozen=True)
class EndedHold:
    """A hold the database just moved out of "held" (what Redis needs to follow)."""

    id: str
    event_id: str
    tier_id: str
    user_id: str
    quantity: int
    status: str
    reason: str | None


def release_hold(redis: Any, keys: Keys, reservation_id: str, *, to_status: str, reason: str | None = None) -> bool:
    """Release a held reservation to ``to_status`` ("released" or "expired") and return its
    tickets to stock (sync). Idempotent: True only for the call that released it.

    Raises ValueError for another ``to_status``.
    """
    ended = release_in_db(reservation_id, to_status=to_status, reason=reason)
    if ended is None:
        return False
    apply_transition(redis, keys, ended)
    nudge_sync(redis, keys, ended.event_id, ended.tier_id)  # the waitlist's turn, if it has one
    return True


def release_in_db(reservation_id: str, *, to_status: str, reason: str | None = None,
                  unless_paying: bool = False) -> EndedHold | None:
    """The database half of :func:`release_hold` (blocking); None if it was not held.

    ``unless_paying`` (a fan's own release): raises Conflict (409 payment_in_progress, Retry-After)
    while the hold's checkout is processing a payment. Both lock the session row, so a release
    and a confirm are ordered; when the release goes first, the confirm is told
    ``reservation_released``, never a misleading reason."""
    if to_status not in RELEASE_STATUSES:
        raise ValueError(f"to_status must be one of {sorted(RELEASE_STATUSES)}, not {to_status!r}")
    now = utcnow()
    with sql.write_transaction():
        if unless_paying and _paying(reservation_id):
            raise Conflict("A payment for this reservation is being processed; it cannot be released now",
                           reason="payment_in_progress", retry_after=1)
        moved = (Reservation.update(status=to_status, reason=reason, updated_at=now)
                 .where(Reservation.id == reservation_id, Reservation.status == "held").execute())
        if not moved:
            return None
        row = Reservation.get_by_id(reservation_id)
        if not (TicketTier.update(held=TicketTier.held - row.quantity, updated_at=now)
                .where(TicketTier.id == row.tier_id, TicketTier.held >= row.quantity).execute()):
            log.error("tier held counter below a live hold; left as is", extra={"reservation_id": reservation_id})
    HOLDS_RELEASED.labels("payment_failed" if reason == "payment_failed" else to_status).inc()
    log.info("hold released", extra={"event_id": str(row.event_id), "user_id": row.user_id,
                                     "reservation_id": str(row.id), "status": to_status, "reason": reason})
    return _ended(row, to_status, reason)


def _paying(reservation_id: str) -> bool:
    found = sql.rows("SELECT status FROM checkout_sessions WHERE reservation_id = ?" + sql.lock_rows("checkout_sessions"),
                     [sql.uid(reservation_id)])
    return bool(found) and found[0][0] == "processing"


def expire_due_holds(rt: Any, limit: int = 1000) -> int:
    """Expire up to ``limit`` holds past their ``expires_at`` (sync, idempotent), EXPIRE_CHUNK per
    transaction. Returns how many."""
    due = [str(r.id) for r in Reservation.select(Reservation.id)
           .where(Reservation.status == "held", Reservation.expires_at <= utcnow())
           .order_by(Reservation.expires_at).limit(limit)]
    expired = 0
    for start in range(0, len(due), EXPIRE_CHUNK):
        chunk = due[start:start + EXPIRE_CHUNK]
        ended = _expire_in_db(chunk)
        if ended is None:  # a payment or a release took one of them meanwhile: one at a time
            expired += sum(release_hold(rt.redis, rt.keys, rid, to_status="expired", reason="hold_expired") for rid in chunk)
            continue
        if ended:
            pipe = rt.redis.pipeline(transaction=False)
            for hold in ended:
                apply_transition(pipe, rt.keys, hold)
            pipe.execute()
            for event_id, tier_id in {(h.event_id, h.tier_id) for h in ended}:
                nudge_sync(rt.redis, rt.keys, event_id, tier_id)
        expired += len(ended)
    return expired


class _Raced(Exception):
    """Another process moved one of the holds between our read and our update."""


def _expire_in_db(ids: list[str]) -> list[EndedHold] | None:
    """Expire the still-held reservations among ``ids`` and return their tickets to their tiers,
    in one transaction (blocking). None (nothing changed) if another process raced us."""
    now = utcnow()
    try:
        with sql.write_transaction():
            rows = list(Reservation.select().where(Reservation.id.in_(ids), Reservation.status == "held"))
            if not rows:
                return []
            moved = (Reservation.update(status="expired", reason="hold_expired", updated_at=now)
                     .where(Reservation.id.in_([r.id for r in rows]), Reservation.status == "held").execute())
            if moved != len(rows):
                raise _Raced
            by_tier: Counter[str] = Counter()
            for row in rows:
                by_tier[str(row.tier_id)] += row.quantity
            for tier_id, quantity in sorted(by_tier.items()):  # tiers locked in id order
                if not (TicketTier.update(held=TicketTier.held - quantity, updated_at=now)
                        .where(TicketTier.id == tier_id, TicketTier.held >= quantity).execute()):
                    log.error("tier held counter below its live holds; left as is", extra={"tier_id": tier_id})
    except _Raced:
        return None
    HOLDS_RELEASED.labels("expired").inc(len(rows))
    for row in rows:
        log.info("hold released", extra={"event_id": str(row.event_id), "user_id": row.user_id,
                                         "reservation_id": str(row.id), "status": "expired", "reason": "hold_expired"})
    return [_ended(row, "expired", "hold_expired") for row in rows]


def apply_transition(redis: Any, keys: Keys, ended: EndedHold) -> Any:
    """Make Redis follow a hold the database ended (res_transition.lua). Returns the script's
    result on a sync client, an awaitable on an async one."""
    return scripts(redis).get("res_transition")(
        keys=[keys.stock(ended.event_id), keys.user_counts(ended.event_id),
              keys.live_reservations(ended.event_id), keys.reservation(ended.id)],
        args=[ended.id, ended.tier_id, ended.user_id, ended.quantity, ended.status, ended.reason or "", DECIDED_RECORD_TTL_S],
    )


def _ended(row: Reservation, status: str, reason: str | None) -> EndedHold:
    return EndedHold(str(row.id), str(row.event_id), str(row.tier_id), row.user_id, row.quantity, status, reason)
