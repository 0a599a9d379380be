"""Tickets: issuance (exactly ``quantity`` per order, whatever retries happen), signed QR
payloads, and the fan's ticket list. Scanning (verify, check-in) lives in models/ticket_scan.py.

A ticket's QR payload is ``TD1.<code>.<event_id>.<tier_id>.<qr_sig>``; ``qr_sig`` is
HMAC-SHA256(SECRET_KEY, "ticketdrop-qr:v1|code|event|tier|owner"), so the owner is bound into
the signature without being printed in the code.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import peewee
import segno

from models import ticket_codes
from models.errors import NotFound
from models.metrics import TICKETS_ISSUED
from models.outcomes import publish
from models.tables import Event, Order, Ticket, TicketTier, utcnow
from models.timestamps import iso

log = logging.getLogger("ticketdrop.tickets")

#: Version tag that opens every QR payload (lets a scanner reject other formats fast).
PAYLOAD_PREFIX = "TD1"
#: Domain separation: SECRET_KEY also signs waiting-room tokens and fairness salts.
_SIG_DOMAIN = "ticketdrop-qr:v1"
#: The sweep leaves orders younger than this to their issue_tickets message, in seconds.
ISSUE_GRACE_S = 10


#: A ticket code as issued (uuid4 hex); anything else names no ticket and never reaches the database.
CODE_RE = re.compile(r"^[0-9a-f]{32}$")


def is_code(code: str) -> bool:
    """True if ``code`` has the shape of an issued ticket code."""
    return CODE_RE.fullmatch(code) is not None


def sign(secret: bytes, code: str, event_id: str, tier_id: str, user_id: str) -> str:
    """The hex HMAC-SHA256 binding a ticket code to its event, tier and owner."""
    message = "|".join((_SIG_DOMAIN, code, str(event_id), str(tier_id), user_id)).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def qr_payload(ticket: Ticket) -> str:
    """The string the QR code encodes."""
    return ".".join((PAYLOAD_PREFIX, ticket.code, str(ticket.event_id), str(ticket.tier_id), ticket.qr_sig))


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    """A ticket as shown inside a checkout session."""
    return {
        "code": ticket.code, "seq": ticket.seq, "status": ticket.status, "qr_sig": ticket.qr_sig,
        "qr_payload": qr_payload(ticket), "checked_in_at": iso(ticket.checked_in_at),
    }


def issue_for_order(secret: bytes, order_id: str | uuid.UUID, *, redis: Any = None, keys: Any = None) -> int:
    """Create the order's missing tickets (seq 1..quantity). Safe to run any number of times, also
    concurrently: the unique (order_id, seq) index drops duplicates without an error.

    Returns how many tickets this call created (0 if all existed or the order is unknown)."""
    order = Order.get_or_none(Order.id == order_id)
    if order is None:
        log.warning("ticket issuance for an unknown order", extra={"order_id": str(order_id)})
        return 0
    have = {t.seq for t in Ticket.select(Ticket.seq).where(Ticket.order == order.id)}
    rows = []
    for seq in range(1, order.quantity + 1):
        if seq in have:
            continue
        code = uuid.uuid4().hex  # 122 random bits: unguessable, and no issue time leaked
        rows.append({
            "id": uuid.uuid4(), "order": order.id, "seq": seq, "code": code, "user_id": order.user_id,
            "qr_sig": sign(secret, code, str(order.event_id), str(order.tier_id), order.user_id),
            "secret": ticket_codes.new_secret(), "event": order.event_id, "tier": order.tier_id, "status": "valid", "created_at": utcnow(),
        })
    created = Ticket.insert_many(rows).on_conflict_ignore().as_rowcount().execute() if rows else 0
    if created:
        TICKETS_ISSUED.inc(created)
        log.info("tickets issued", extra={"order_id": str(order.id), "event_id": str(order.event_id),
                                          "user_id": order.user_id, "count": created})
    if redis is not None and keys is not None and (created or not rows):
        publish(redis, keys, str(order.checkout_session_id), {"kind": "checkout", "status": "paid", "order_id": str(order.id),
                                                     "tickets": order.quantity})
    return created


def issue_missing_tickets(rt: Any, *, now: datetime | None = None, limit: int = 500) -> int:
    """Sweep: issue the tickets of paid orders that have fewer than ``quantity`` (their issuance
    message was lost). Returns how many tickets were created."""
    cutoff = (now or utcnow()) - timedelta(seconds=ISSUE_GRACE_S)
    short = (
        Order.select(Order.id)
        .join(Ticket, peewee.JOIN.LEFT_OUTER, on=(Ticket.order == Order.id))
        .where(Order.status == "paid", Order.created_at <= cutoff)
        .group_by(Order.id, Order.quantity)
        .having(peewee.fn.COUNT(Ticket.id) < Order.quantity)
        .limit(limit)
    )
    created = sum(issue_for_order(rt.settings.secret_bytes, o.id, redis=rt.redis, keys=rt.keys) for o in short)
    if created:
        log.warning("recovery: issued missing tickets", extra={"count": created})
    return created


def user_tickets(user_id: str) -> list[dict[str, Any]]:
    """Every ticket of ``user_id`` across events, soonest event first."""
    query = (
        Ticket.select(Ticket, Event, TicketTier)
        .join(Event, on=(Ticket.event == Event.id))
        .switch(Ticket)
        .join(TicketTier, on=(Ticket.tier == TicketTier.id))
        .where(Ticket.user_id == user_id)
        .order_by(Event.starts_at, Ticket.created_at, Ticket.order, Ticket.seq)
    )
    return [
        {
            **ticket_summary(t), "order_id": str(t.order_id),
            "event": {"id": str(t.event.id), "name": t.event.name, "venue": t.event.venue, "starts_at": iso(t.event.starts_at),
                      "timezone": t.event.timezone, "ticket_mode": t.event.ticket_mode},
            "tier": {"id": str(t.tier.id), "name": t.tier.name},
            "created_at": iso(t.created_at),
        }
        for t in query
    ]


def qr_svg(user_id: str, code: str) -> bytes:
    """The ticket's QR code as SVG, for its owner only.

    Raises NotFound (404) for unknown codes and for other users' tickets (their existence stays private)."""
    ticket = Ticket.get_or_none(Ticket.code == code) if is_code(code) else None
    if ticket is None or ticket.user_id != user_id:
        raise NotFound(f"No ticket {code!r} for this user", field="code")
    out = io.BytesIO()
    segno.make(qr_payload(ticket), error="m", micro=False).save(out, kind="svg", scale=4, border=4, xmldecl=False,
                                                                 title=f"TicketDrop ticket {ticket.seq}")
    return out.getvalue()
