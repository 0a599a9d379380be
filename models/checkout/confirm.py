"""Confirming a checkout: the web tier records the request (open -> processing) in one short
transaction; a worker settles it with the other confirms of its event (models.checkout.batch).

The processing session is the command itself: the ``settle_checkouts(event_id)`` message only
says "this event has confirms to settle", so a lost or duplicated message loses or repeats
nothing (see :func:`models.checkout.batch.settle_event`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models import sql
from models.catalog.statuses import FINISHED_STATUSES
from models.checkout.batch import settle_batch
from models.checkout.documents import document, owned_session, session_document
from models.errors import Conflict, EventNotOnSale, Gone, NotFound
from models.reservations.holds import EndedHold, release_in_db
from models.tables import CheckoutSession, Order, Reservation, utcnow

log = logging.getLogger("ticketdrop.checkout")


@dataclass(frozen=True)
class ConfirmStart:
    document: dict[str, Any]
    #: The session is processing: the caller makes sure a settle message is on its way for
    #: ``event_id`` (:func:`models.checkout.batch.claim_settle` decides whether to send one).
    enqueue: bool
    #: Why the confirm is refused, if it is: "hold_expired" (the caller has a worker release the
    #: hold, then answers :func:`refusal_error`'s 410) or "event_not_on_sale" (the caller makes
    #: Redis follow ``ended_hold``, then answers its 409).
    refusal: str | None = None
    event_id: str = ""
    #: The status of the event whose sale has ended (with refusal "event_not_on_sale").
    event_status: str = ""
    ended_hold: EndedHold | None = None


def refusal_error(start: ConfirmStart) -> Gone | EventNotOnSale:
    """The error a refused confirm is answered with."""
    if start.refusal == "hold_expired":
        return Gone("The hold on these tickets expired; reserve again while stock remains", reason="hold_expired")
    return EventNotOnSale(f"The event is {start.event_status}: its sale has ended; nothing was charged and the "
                          "hold is released", reason="event_not_on_sale", event_status=start.event_status)


@dataclass(frozen=True)
class Settlement:
    session_id: str
    #: The session's status after settling: paid, failed, expired (or open/missing: nothing to do).
    status: str
    #: Set when paid (its tickets were created in the same transaction).
    order_id: str | None = None


_READ = (
    "SELECT s.user_id, s.status, s.simulate, s.amount_cents, s.failure_reason, s.created_at, s.updated_at, "
    "s.reservation_id, r.event_id, r.tier_id, r.quantity, r.status, r.expires_at, e.status FROM checkout_sessions s "
    "JOIN reservations r ON r.id = s.reservation_id JOIN events e ON e.id = r.event_id WHERE s.id = ?")


#: The usual confirm in one autocommitted statement: open -> processing while the hold is live and
#: the event still selling, returning what the document needs (no transaction, no read first).
_PROCESS = (
    "UPDATE checkout_sessions SET status = 'processing', simulate = ?, updated_at = ? "
    "WHERE id = ? AND user_id = ? AND status = 'open' AND EXISTS (SELECT 1 FROM reservations r "
    "JOIN events e ON e.id = r.event_id WHERE r.id = checkout_sessions.reservation_id AND r.status = 'held' "
    "AND r.expires_at > ? AND e.status NOT IN ('closed', 'canceled')) RETURNING reservation_id, amount_cents, "
    "created_at, " + ", ".join(f"(SELECT r.{c} FROM reservations r WHERE r.id = checkout_sessions.reservation_id)"
                               for c in ("event_id", "tier_id", "quantity", "expires_at")))


def _mark(session_id: Any, from_status: str, now: datetime, **changes: Any) -> int:
    return (
        CheckoutSession.update(updated_at=now, **changes)
        .where(CheckoutSession.id == session_id, CheckoutSession.status == from_status)
        .execute()
    )


def begin_confirm(*, user_id: str, session_id: str | uuid.UUID, simulate: str, now: datetime | None = None) -> ConfirmStart:
    """Record a confirm request in one short transaction. Paid sessions answer with their
    document; open ones move to processing (the conditional UPDATE lets one concurrent request
    through, the rest see processing and only wait for the outcome).

    Raises NotFound (404) for unknown or other users' sessions, Conflict (409) for a failed session,
    a different ``simulate`` while processing, or a released reservation, Gone (410) once expired."""
    now = now or utcnow()
    stamp = CheckoutSession.updated_at.db_value(now)
    moved = sql.rows(_PROCESS, [simulate, stamp, sql.uid(session_id), user_id, stamp])
    if moved:
        rid, amount, created, event_id, tier_id, quantity, expires_raw = moved[0]
        log.info("checkout confirmed", extra={"event_id": sql.text_id(event_id), "user_id": user_id,
                                              "session_id": str(session_id), "simulate": simulate})
        return ConfirmStart(document(
            session_id=sql.text_id(session_id), reservation_id=sql.text_id(rid), status="processing", amount_cents=amount,
            event_id=sql.text_id(event_id), tier_id=sql.text_id(tier_id), quantity=quantity,
            expires_at=sql.value(Reservation.expires_at, expires_raw), simulate=simulate, failure_reason=None,
            order_id=None, tickets=[], created_at=sql.value(CheckoutSession.created_at, created), updated_at=now),
            True, None, sql.text_id(event_id))
    # Anything else (unknown, another user's, already processing or decided, hold or event ended):
    # read it in a transaction and answer from its state.
    with sql.write_transaction():
        found = sql.rows(_READ, [sql.uid(session_id)])
        if not found or found[0][0] != user_id:
            raise NotFound(f"No checkout session {session_id} for this user", field="checkoutId")
        (_, status, current, amount, reason, created, updated, rid, event_id, tier_id, quantity, r_status,
         expires_raw, event_status) = found[0]
        expires_at = sql.value(Reservation.expires_at, expires_raw)
        event_id = sql.text_id(event_id)

        def doc(new_status: str, new_simulate: str | None) -> dict[str, Any]:
            return document(session_id=sql.text_id(session_id), reservation_id=sql.text_id(rid), status=new_status,
                            amount_cents=amount, event_id=event_id, tier_id=sql.text_id(tier_id), quantity=quantity,
                            expires_at=expires_at, simulate=new_simulate, failure_reason=reason, order_id=None,
                            tickets=[], created_at=sql.value(CheckoutSession.created_at, created),
                            updated_at=now if new_status != status else sql.value(CheckoutSession.updated_at, updated))

        if status == "open" and event_status in FINISHED_STATUSES:
            # Canceled or closed: nothing is charged and the hold goes back now (docs/CHECKOUT.md).
            _mark(session_id, "open", now, status="failed", failure_reason="event_not_on_sale")
            ended = release_in_db(sql.text_id(rid), to_status="released", reason="event_not_on_sale")
            return ConfirmStart({**doc("failed", current), "failure_reason": "event_not_on_sale"}, False,
                                "event_not_on_sale", event_id, event_status, ended)
        if status == "open":
            if r_status == "expired" or (r_status == "held" and expires_at <= now):
                _mark(session_id, "open", now, status="expired", failure_reason="hold_expired")
                return ConfirmStart({**doc("expired", current), "failure_reason": "hold_expired"}, False, "hold_expired",
                                    event_id)
            if r_status != "held":
                _mark(session_id, "open", now, status="expired", failure_reason=f"reservation_{r_status}")
                status = "released"  # raised once the transaction has committed the mark
            elif _mark(session_id, "open", now, status="processing", simulate=simulate):
                log.info("checkout confirmed", extra={"event_id": event_id, "user_id": user_id,
                                                      "session_id": str(session_id), "simulate": simulate})
                return ConfirmStart(doc("processing", simulate), True, None, event_id)
            else:
                status = "raced"
    if status == "released":
        raise Conflict(f"The reservation is {r_status}; reserve again while stock remains",
                       reason=f"reservation_{r_status}", reservation_status=r_status)
    if status == "raced":  # a concurrent confirm moved it first: answer from its state
        return _decided_start(user_id, session_id, simulate, event_id)
    if status == "processing":
        if current != simulate:
            raise Conflict("A payment for this checkout is already being processed", reason="payment_in_progress")
        return ConfirmStart(doc("processing", current), True, None, event_id)
    return _decided_start(user_id, session_id, simulate, event_id)


def _decided_start(user_id: str, session_id: Any, simulate: str, event_id: str) -> ConfirmStart:
    session = owned_session(user_id, session_id)
    if session.status == "paid":
        return ConfirmStart(session_document(session), False, None, event_id)
    # A confirm sent again (a retry after a lost answer) answers as the first one did: the
    # problem carries the session as ``checkout`` (docs/api.md).
    if session.status == "failed":
        if session.failure_reason == "event_not_on_sale":
            raise EventNotOnSale("The sale of this event has ended; nothing was charged", reason="event_not_on_sale",
                                 checkout=session_document(session))
        raise Conflict("The payment for this checkout failed; reserve again while stock remains", reason="payment_failed",
                       checkout=session_document(session))
    if session.status == "expired":
        if (session.failure_reason or "").startswith("reservation_"):
            raise Conflict("The reservation was released before payment; nothing was charged", reason=session.failure_reason,
                           checkout=session_document(session))
        raise Gone("This checkout expired before payment; nothing was charged", reason="hold_expired",
                   checkout=session_document(session))
    if session.simulate != simulate:
        raise Conflict("A payment for this checkout is already being processed", reason="payment_in_progress")
    return ConfirmStart(session_document(session), True, None, event_id)


def settle(rt: Any, session_id: str | uuid.UUID, *, now: datetime | None = None) -> Settlement:
    """Settle one processing session now (a batch of one; the repair path and tests), or report
    the state an earlier settle left. Returns the Settlement."""
    done = settle_batch(rt, secret=rt.settings.secret_bytes, session_ids=[str(session_id)], now=now)
    if done:
        return Settlement(done[0].session_id, done[0].status, done[0].order_id)
    session = CheckoutSession.get_or_none(CheckoutSession.id == session_id)
    if session is None:
        log.warning("confirm for an unknown checkout session", extra={"session_id": str(session_id)})
        return Settlement(str(session_id), "missing")
    order = Order.get_or_none(Order.session == session.id) if session.status == "paid" else None
    return Settlement(str(session.id), session.status, str(order.id) if order else None)
