"""Moving a ticket to another fan, and handing the owner's device its rotating-code secret.

A transfer gives the ticket a new owner, a new secret and a new static signature in one
conditional UPDATE (still ``valid``, still the sender's), so every code the old owner could
show, printed or rotating, stops scanning the moment it commits. The receiver's per-event cap
(EVENT_PURCHASE_LIMIT: live holds + paid orders + tickets received) applies: the Redis gate the
reservations use counts the ticket first (ticket_transfer.lua), the database checks again (one
transfer to a fan at a time, so this holds without the Redis counters too), and the count is
given back if the move does not happen. The sender's own purchases keep counting
for the sender: buying to pass tickets on stays bounded by the cap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from peewee import fn

from models import ticket_codes
from models.db import is_postgres
from models.errors import Conflict, LimitExceeded, NotFound, ValidationFailed
from models.identity import USER_ID_RE
from models.keys import Keys
from models.redis import scripts
from models.sql import rows, write_transaction
from models.tables import Event, Order, Reservation, Ticket, TicketTransfer, utcnow
from models.tickets import sign
from models.timestamps import iso

log = logging.getLogger("ticketdrop.tickets")

RunBlocking = Callable[..., Awaitable[Any]]


def _owned(user_id: str, code: str) -> Ticket:
    ticket = Ticket.get_or_none(Ticket.code == code)
    if ticket is None or ticket.user_id != user_id:
        raise NotFound(f"No ticket {code!r} for this user", field="code")
    return ticket


def rotating_key(user_id: str, code: str, *, rotate_s: int, now_s: float | None = None) -> dict[str, Any]:
    """What the owner's device needs to show the live code: the ticket's secret and the step
    length. Raises NotFound (404) for unknown codes and other users' tickets, Conflict (409)
    for a void ticket or an event whose gate takes printed codes only."""
    ticket = _owned(user_id, code)
    mode = Event.select(Event.ticket_mode).where(Event.id == ticket.event_id).scalar()
    if mode == "static":
        raise Conflict("This event's gate takes the printed code only", field="code", reason="static_only")
    if ticket.status == "void":
        raise Conflict("This ticket is void", field="code", reason="ticket_void")
    secret = ticket.secret
    if secret is None:  # issued before rotating codes existed: draw its secret once
        Ticket.update(secret=ticket_codes.new_secret()).where(Ticket.id == ticket.id, Ticket.secret.is_null()).execute()
        secret = Ticket.get_by_id(ticket.id).secret
    now_s = time.time() if now_s is None else now_s
    return {
        "code": ticket.code, "status": ticket.status, "ticket_mode": mode, "secret": secret, "rotate_s": rotate_s,
        "step": ticket_codes.current_step(rotate_s, now_s), "server_time_ms": int(now_s * 1000),
        "mac_hex_digits": ticket_codes.MAC_HEX,
        "format": "code.step.mac; step = floor(unix_seconds / rotate_s); "
                  "mac = first mac_hex_digits hex digits of HMAC-SHA256(hex-decoded secret, 'code|step')",
    }


def counted_tickets(event_id: Any, user_id: str) -> int:
    """The user's tickets against the per-event cap in the database: live holds, paid orders,
    and tickets received from other fans."""
    holds = (Reservation.select(fn.COALESCE(fn.SUM(Reservation.quantity), 0))
             .where(Reservation.event == event_id, Reservation.user_id == user_id, Reservation.status == "held").scalar())
    paid = (Order.select(fn.COALESCE(fn.SUM(Order.quantity), 0))
            .where(Order.event == event_id, Order.user_id == user_id, Order.status == "paid").scalar())
    return int(holds or 0) + int(paid or 0) + received_tickets(event_id, user_id)


def received_tickets(event_id: Any, user_id: str) -> int:
    """Tickets the user holds for the event from other fans' orders (a void one no longer counts)."""
    return (Ticket.select().join(Order, on=(Ticket.order == Order.id))
            .where(Ticket.event == event_id, Ticket.user_id == user_id, Order.user_id != user_id,
                   Ticket.status != "void").count())


@dataclass(frozen=True)
class Plan:
    """A transfer that passed the checks that need no lock."""

    ticket_id: Any
    event_id: str
    code: str
    from_user: str
    to_user: str
    #: The user who bought the ticket (a transfer back to them adds nothing to their count).
    buyer: str


def _document(ticket: Ticket, from_user: str, to_user: str, at: Any) -> dict[str, Any]:
    return {"code": ticket.code, "event_id": str(ticket.event_id), "from_user": from_user, "to_user": to_user,
            "transferred_at": iso(at)}


def plan_transfer(from_user: str, code: str, to_user: str) -> Plan | dict[str, Any]:
    """Check a transfer request. Returns a Plan, or the earlier transfer's document when this is a
    retry of one that already happened. Raises ValidationFailed (422, to_user), NotFound (404),
    Conflict (409: checked in or void)."""
    if not USER_ID_RE.match(to_user):
        raise ValidationFailed("to_user must be 1..128 printable characters without spaces", field="to_user")
    if to_user == from_user:
        raise ValidationFailed("to_user is you: a ticket moves to another fan", field="to_user")
    ticket = Ticket.get_or_none(Ticket.code == code)
    if ticket is not None and ticket.user_id == to_user:
        last = (TicketTransfer.select().where(TicketTransfer.ticket == ticket.id)
                .order_by(TicketTransfer.id.desc()).first())
        if last is not None and last.from_user == from_user and last.to_user == to_user:
            return _document(ticket, from_user, to_user, last.created_at)  # a retry: it happened
    ticket = _owned(from_user, code)
    if ticket.status != "valid":
        reason = "already_checked_in" if ticket.status == "checked_in" else "ticket_void"
        raise Conflict(f"A {ticket.status.replace('_', ' ')} ticket cannot be transferred", field="code", reason=reason)
    buyer = Order.select(Order.user_id).where(Order.id == ticket.order_id).scalar()
    return Plan(ticket.id, str(ticket.event_id), ticket.code, from_user, to_user, buyer)


def commit_transfer(secret: bytes, plan: Plan, limit: int) -> dict[str, Any]:
    """Move the ticket (new owner, new secret, new static signature) if it is still the
    sender's and valid and the receiver stays within ``limit``. Raises LimitExceeded (409) or
    Conflict (409, it changed meanwhile). Returns the transfer document."""
    with write_transaction():
        if plan.to_user != plan.buyer:
            _one_transfer_to(plan.event_id, plan.to_user)
            counted = counted_tickets(plan.event_id, plan.to_user)
            if counted + 1 > limit:
                raise _limit(plan.to_user, counted, limit)
        ticket = Ticket.get_by_id(plan.ticket_id)
        moved = (Ticket.update(user_id=plan.to_user, secret=ticket_codes.new_secret(),
                               qr_sig=sign(secret, ticket.code, str(ticket.event_id), str(ticket.tier_id), plan.to_user))
                 .where(Ticket.id == plan.ticket_id, Ticket.user_id == plan.from_user, Ticket.status == "valid")
                 .execute())
        if not moved:
            raise Conflict("The ticket changed meanwhile (checked in, void or transferred); reload it", field="code",
                           reason="ticket_changed")
        record = TicketTransfer.create(ticket=plan.ticket_id, from_user=plan.from_user, to_user=plan.to_user, created_at=utcnow())
    log.info("ticket transferred", extra={"event_id": plan.event_id, "code": plan.code, "user_id": plan.from_user,
                                          "to_user": plan.to_user})
    return _document(ticket, plan.from_user, plan.to_user, record.created_at)


def _one_transfer_to(event_id: str, user: str) -> None:
    """Make transfers to ``user`` for the event wait for each other until this transaction ends,
    so each counts the ones before it (without the Redis counters, two counted the same tickets
    and both passed the cap). PostgreSQL: a transaction-scoped advisory lock on (event, user);
    SQLite's write transaction already excludes every other writer."""
    if is_postgres():
        rows("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [f"ticket_transfer:{event_id}:{user}"])


def _limit(user: str, counted: int, limit: int) -> LimitExceeded:
    return LimitExceeded(f"The receiver already has {counted} of their {limit} tickets for this event", field="to_user",
                         limit=limit, counted=counted)


async def transfer(redis: Any, keys: Keys, secret: bytes, limit: int, run_blocking: RunBlocking, *, from_user: str,
                   code: str, to_user: str) -> dict[str, Any]:
    """Transfer ticket ``code`` from ``from_user`` to ``to_user`` (async Redis, blocking work
    through ``run_blocking``). Raises as plan_transfer and commit_transfer do. Returns the
    transfer document; a retry of a finished transfer returns the same document."""
    plan = await run_blocking(plan_transfer, from_user, code, to_user)
    if isinstance(plan, dict):
        return plan
    script = scripts(redis).get("ticket_transfer")
    counter = [keys.stock(plan.event_id), keys.user_counts(plan.event_id)]
    gated = False
    if plan.to_user != plan.buyer:
        done, count = await script(keys=counter, args=[plan.to_user, 1, limit])
        if not int(done):
            raise _limit(plan.to_user, int(count), limit)
        gated = int(count) >= 0  # -1: the event's counters are not built; the database decides
    try:
        document = await run_blocking(commit_transfer, secret, plan, limit)
    except BaseException:
        if gated:
            await script(keys=counter, args=[plan.to_user, -1, limit])
        raise
    if plan.from_user != plan.buyer:  # the sender had received it: it no longer counts for them
        await script(keys=counter, args=[plan.from_user, -1, limit])
    return document
