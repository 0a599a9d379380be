"""Confirming a checkout: the web tier records the request (open -> processing), a worker
decides the payment and settles it.

Settling a paid session is one transaction: session paid, hold converted (tier held -> sold),
order created. Everything after the commit (Redis bookkeeping, the issuance command, the
outcome) is idempotent and re-run by every redelivery, so a crash at any point either
re-decides identically (before the commit) or only repeats harmless steps (after it).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from models import inventory
from models.checkout import gateway
from models.checkout.documents import owned_session, session_document
from models.checkout.sessions import check_payable
from models.db import database
from models.errors import Conflict, Gone
from models.metrics import ORDERS_PAID, PAYMENTS_FAILED
from models.outcomes import publish
from models.tables import CheckoutSession, Order, Reservation, utcnow

log = logging.getLogger("ticketdrop.checkout")

#: A duplicate confirm resends the command only once the session has waited this long, in
#: seconds (double clicks do not multiply messages; a lost message is recovered quickly).
RESEND_AFTER_S = 5


@dataclass(frozen=True)
class ConfirmStart:
    document: dict[str, Any]
    #: Send ``confirm_checkout(session_id)``: this request moved the session to processing, or it
    #: has been processing for RESEND_AFTER_S (the first message may be lost; a resend is harmless).
    enqueue: bool
    #: The hold lapsed before payment: the caller has a worker release it, then raises this 410.
    lapsed: Gone | None = None


@dataclass(frozen=True)
class Settlement:
    session_id: str
    #: The session's status after settling: paid, failed, expired (or open/missing: nothing to do).
    status: str
    #: Set when paid: the caller sends ``issue_tickets(order_id)``.
    order_id: str | None = None


def _mark(session_id: Any, from_status: str, now: datetime, **changes: Any) -> int:
    return (
        CheckoutSession.update(updated_at=now, **changes)
        .where(CheckoutSession.id == session_id, CheckoutSession.status == from_status)
        .execute()
    )


def begin_confirm(*, user_id: str, session_id: str | uuid.UUID, simulate: str, now: datetime | None = None) -> ConfirmStart:
    """Record a confirm request. Paid sessions answer with their document; open ones move to
    processing (the conditional UPDATE lets one concurrent request through, the rest see processing
    and only wait for the outcome).

    Raises NotFound (404) for unknown or other users' sessions, Conflict (409) for a failed session,
    a different ``simulate`` while processing, or a released reservation, Gone (410) once expired."""
    now = now or utcnow()
    session = owned_session(user_id, session_id)
    if session.status == "open":
        try:
            check_payable(session.reservation, now)
        except (Gone, Conflict) as exc:
            _mark(session.id, "open", now, status="expired", failure_reason=exc.extra.get("reason"))
            if isinstance(exc, Gone):
                return ConfirmStart(session_document(owned_session(user_id, session_id)), False, lapsed=exc)
            raise
        if _mark(session.id, "open", now, status="processing", simulate=simulate):
            log.info("checkout confirmed", extra={"event_id": str(session.reservation.event_id), "user_id": user_id,
                                                  "session_id": str(session.id), "simulate": simulate})
            return ConfirmStart(session_document(owned_session(user_id, session_id)), True)
        session = owned_session(user_id, session_id)
    if session.status == "paid":
        return ConfirmStart(session_document(session), False)
    if session.status == "failed":
        raise Conflict("The payment for this checkout failed; reserve again while stock remains", reason="payment_failed")
    if session.status == "expired":
        if (session.failure_reason or "").startswith("reservation_"):
            raise Conflict("The reservation was released before payment; nothing was charged", reason=session.failure_reason)
        raise Gone("This checkout expired before payment; nothing was charged", reason="hold_expired")
    if session.simulate != simulate:
        raise Conflict("A payment for this checkout is already being processed", reason="payment_in_progress")
    # Still processing: one duplicate per RESEND_AFTER_S wins the right to resend (the UPDATE arbitrates).
    resend = session.updated_at <= now - timedelta(seconds=RESEND_AFTER_S) and bool(
        CheckoutSession.update(updated_at=now)
        .where(CheckoutSession.id == session.id, CheckoutSession.status == "processing",
               CheckoutSession.updated_at == session.updated_at)
        .execute()
    )
    return ConfirmStart(session_document(session), resend)


def _pay(rt: Any, session: CheckoutSession, now: datetime) -> None:
    reservation: Reservation = session.reservation
    with database.atomic():
        # The session row first: a concurrent delivery waits here, then finds it decided.
        if not _mark(session.id, "processing", now, status="paid"):
            return
        converted = inventory.convert_hold_in_transaction(reservation.id, now)
        if converted is None:
            CheckoutSession.update(status="expired", failure_reason="hold_expired", updated_at=now).where(
                CheckoutSession.id == session.id).execute()
        else:
            order = Order.create(
                id=uuid.uuid4(), session=session.id, user_id=session.user_id, event=reservation.event_id,
                tier=reservation.tier_id, quantity=reservation.quantity, amount_cents=session.amount_cents,
                status="paid", created_at=now,
            )
    if converted is None:
        log.warning("payment refused: the hold lapsed first", extra={"event_id": str(reservation.event_id),
                                                                       "user_id": session.user_id, "session_id": str(session.id)})
        return
    inventory.after_convert(rt.redis, rt.keys, converted)
    ORDERS_PAID.inc()
    log.info("payment captured, order paid", extra={"event_id": str(reservation.event_id), "user_id": session.user_id,
                                                    "session_id": str(session.id), "order_id": str(order.id),
                                                    "amount_cents": session.amount_cents})


def _decline(session: CheckoutSession, reason: str, now: datetime) -> None:
    if _mark(session.id, "processing", now, status="failed", failure_reason=reason):
        PAYMENTS_FAILED.inc()
        log.info("payment failed", extra={"event_id": str(session.reservation.event_id), "user_id": session.user_id,
                                          "session_id": str(session.id), "reason": reason})


def settle(rt: Any, session_id: str | uuid.UUID, *, now: datetime | None = None) -> Settlement:
    """Decide a processing session's payment, then (on every call) run the idempotent
    after-commit steps of its decided state and publish the outcome.

    Returns the Settlement; its ``order_id`` (when paid) is the order whose tickets to issue."""
    now = now or utcnow()
    session = CheckoutSession.select(CheckoutSession, Reservation).join(Reservation).where(CheckoutSession.id == session_id).first()
    if session is None:
        log.warning("confirm for an unknown checkout session", extra={"session_id": str(session_id)})
        return Settlement(str(session_id), "missing")
    if session.status == "processing":
        auth = gateway.authorize(str(session.id), session.amount_cents, session.simulate)
        if auth.approved:
            _pay(rt, session, now)
        else:
            _decline(session, auth.decline_reason or "payment_declined", now)
        session = CheckoutSession.select(CheckoutSession, Reservation).join(Reservation).where(CheckoutSession.id == session_id).first()
    return _after_decision(rt, session)


def _after_decision(rt: Any, session: CheckoutSession) -> Settlement:
    sid, rid = str(session.id), str(session.reservation_id)
    order_id = None
    if session.status == "paid":
        order_id = str(Order.get(Order.session == session.id).id)
    elif session.status == "failed":
        inventory.release_hold(rt.redis, rt.keys, rid, to_status="released", reason="payment_failed")
    elif session.status == "expired":
        inventory.release_hold(rt.redis, rt.keys, rid, to_status="expired", reason="hold_expired")
    else:
        return Settlement(sid, session.status)
    publish(rt.redis, rt.keys, sid, {"kind": "checkout", "status": session.status, "order_id": order_id,
                                     "reason": session.failure_reason})
    return Settlement(sid, session.status, order_id)
