"""Sweeps that repair checkouts whose messages were lost or whose holds lapsed.

Both are idempotent and safe next to running workers: every step is a conditional UPDATE or
one of the idempotent settle/release services.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from models import inventory
from models.checkout import idempotency
from models.checkout.batch import settle_batch
from models.tables import CheckoutSession, Reservation, utcnow

log = logging.getLogger("ticketdrop.checkout")

#: A session processing for longer than this lost its confirm message; the sweep settles it, in seconds.
STALE_PROCESSING_S = 60


def expire_session(rt: Any, session_id: str | uuid.UUID, *, now: datetime | None = None) -> bool:
    """Expire an open session whose hold can no longer be paid, and release a lapsed hold.

    Returns True if this call changed something (the session or the hold)."""
    now = now or utcnow()
    session = CheckoutSession.select(CheckoutSession, Reservation).join(Reservation).where(CheckoutSession.id == session_id).first()
    if session is None:
        return False
    reservation: Reservation = session.reservation
    lapsed = reservation.status == "held" and reservation.expires_at <= now
    changed = 0
    if session.status == "open" and (lapsed or reservation.status != "held"):
        reason = "hold_expired" if lapsed or reservation.status == "expired" else f"reservation_{reservation.status}"
        changed = (
            CheckoutSession.update(status="expired", failure_reason=reason, updated_at=now)
            .where(CheckoutSession.id == session.id, CheckoutSession.status == "open")
            .execute()
        )
    released = lapsed and session.status in ("open", "expired") and inventory.release_hold(
        rt.redis, rt.keys, str(reservation.id), to_status="expired", reason="hold_expired"
    )
    if changed or released:
        log.info("checkout expired", extra={"event_id": str(reservation.event_id), "user_id": session.user_id,
                                            "session_id": str(session.id)})
    return bool(changed or released)


def expire_stale_sessions(rt: Any, *, now: datetime | None = None, limit: int = 500) -> int:
    """Sweep: expire open sessions whose hold ended, settle sessions stuck in processing (their
    settle message was lost; the decision is the recorded one) with their tickets, and
    purge Idempotency-Key records past their TTL. Returns how many sessions it changed."""
    now = now or utcnow()
    open_ended = (
        CheckoutSession.select(CheckoutSession.id).join(Reservation)
        .where(CheckoutSession.status == "open", (Reservation.status != "held") | (Reservation.expires_at <= now))
        .limit(limit)
    )
    fixed = sum(expire_session(rt, s.id, now=now) for s in open_ended)
    # Their orders and tickets are written in the settling transaction itself.
    fixed += len(settle_batch(rt, secret=rt.settings.secret_bytes, stale_before=now - timedelta(seconds=STALE_PROCESSING_S),
                              limit=limit))
    purged = idempotency.purge_expired(now=now, limit=limit * 2)
    if fixed:
        log.warning("recovery: checkout sessions repaired", extra={"count": fixed})
    if purged:
        log.info("idempotency keys purged", extra={"count": purged})
    return fixed
