"""Scanning at the gate: verify a code, and check a ticket in exactly once.

Two kinds of code reach the scanner. The printable static payload ``TD1.code.event.tier.sig``
(models/tickets.py) is checked by recomputing its signature over the stored code, event, tier
and owner. The phone's rotating code ``code.step.mac`` (models/ticket_codes.py) is checked with
the ticket's own secret and must be within one step of now. The event's ``ticket_mode`` says
which kinds its gate takes. Comparisons are constant-time.

Check-in is one conditional UPDATE valid -> checked_in that also requires the owner and secret
the code was checked against: of two scanners reading one ticket at the same instant the row
count names the single winner, and a transfer that lands between the check and the UPDATE
makes the old owner's code fail instead of admitting it.
"""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models import ticket_codes
from models.errors import Conflict, Forbidden
from models.metrics import CHECK_INS
from models.tables import Event, Ticket, TicketTier, utcnow
from models.tickets import PAYLOAD_PREFIX, is_code, sign
from models.timestamps import iso

log = logging.getLogger("ticketdrop.tickets")

#: What the scanner says for each refusal (the operator reads it aloud to the fan).
MESSAGES = {
    "invalid_signature": "This QR code is not a genuine TicketDrop ticket (forged, or the ticket was transferred)",
    "expired": "expired code: ask the fan to show the live ticket",
    "not_yet_valid": "code from the future (the phone's clock is ahead): ask the fan to set the clock and show the live ticket",
    "static_refused": "printed codes are not accepted for this event: ask the fan to show the live ticket",
    "rotating_refused": "this event takes the printed code only: ask the fan for the printed ticket",
}


@dataclass(frozen=True)
class Reading:
    """A scanned code: the ticket it names (None if unknown or forged) and why it is refused
    (None if it may be admitted as far as the code goes)."""

    ticket: Ticket | None
    refusal: str | None


def _parse_static(payload: str) -> tuple[str, str, str, str] | None:
    parts = payload.strip().split(".")
    if len(parts) != 5 or parts[0] != PAYLOAD_PREFIX or not all(parts[1:]):
        return None
    return parts[1], parts[2], parts[3], parts[4]


def _read_static(secret: bytes, payload: str) -> Reading | None:
    parsed = _parse_static(payload)
    if parsed is None:
        return None
    code, event_id, tier_id, given = parsed
    if not is_code(code):
        return None
    ticket = Ticket.get_or_none(Ticket.code == code)
    if ticket is None:
        return Reading(None, "invalid_signature")
    expected = sign(secret, ticket.code, str(ticket.event_id), str(ticket.tier_id), ticket.user_id)
    genuine = hmac.compare_digest(expected.encode(), given.encode())
    if not genuine or event_id != str(ticket.event_id) or tier_id != str(ticket.tier_id):
        return Reading(None, "invalid_signature")
    mode = Event.select(Event.ticket_mode).where(Event.id == ticket.event_id).scalar()
    return Reading(ticket, "static_refused" if mode == "rotating" else None)


def _read_rotating(payload: str, rotate_s: int, now_s: float) -> Reading | None:
    presented = ticket_codes.parse(payload)
    if presented is None:
        return None
    ticket = Ticket.get_or_none(Ticket.code == presented.code)
    if ticket is None or not ticket_codes.genuine(ticket.secret, presented):
        return Reading(None, "invalid_signature")
    age = ticket_codes.age(presented, rotate_s, now_s)
    if age != "current":
        return Reading(ticket, "expired" if age == "expired" else "not_yet_valid")
    mode = Event.select(Event.ticket_mode).where(Event.id == ticket.event_id).scalar()
    return Reading(ticket, "rotating_refused" if mode == "static" else None)


def read(secret: bytes, payload: str, *, rotate_s: int, now_s: float | None = None) -> Reading:
    """Check ``payload`` (either kind of code) without changing anything."""
    now_s = time.time() if now_s is None else now_s
    reading = _read_static(secret, payload) or _read_rotating(payload, rotate_s, now_s)
    return reading or Reading(None, "invalid_signature")


def scan_document(ticket: Ticket) -> dict[str, Any]:
    """What the scanner shows about a genuine ticket."""
    event = Event.get_by_id(ticket.event_id)
    tier = TicketTier.get_by_id(ticket.tier_id)
    return {
        "code": ticket.code, "seq": ticket.seq, "status": ticket.status, "order_id": str(ticket.order_id),
        "user_id": ticket.user_id, "checked_in_at": iso(ticket.checked_in_at),
        "event": {"id": str(event.id), "name": event.name, "starts_at": iso(event.starts_at), "timezone": event.timezone},
        "tier": {"id": str(tier.id), "name": tier.name},
    }


def verify(secret: bytes, payload: str, *, rotate_s: int, now_s: float | None = None) -> dict[str, Any]:
    """Read-only check. Returns ``{"result", "message", "checked_in_at", "ticket"}``; ``result`` is
    valid, checked_in, void, or a refusal (invalid_signature, expired, not_yet_valid,
    static_refused, rotating_refused); ``ticket`` is null for an invalid signature."""
    reading = read(secret, payload, rotate_s=rotate_s, now_s=now_s)
    ticket = reading.ticket
    if ticket is None:
        return {"result": "invalid_signature", "message": MESSAGES["invalid_signature"], "checked_in_at": None, "ticket": None}
    result = reading.refusal or ("valid" if ticket.status == "valid" else ticket.status)
    return {"result": result, "message": MESSAGES.get(result), "checked_in_at": iso(ticket.checked_in_at),
            "ticket": scan_document(ticket)}


def check_in(secret: bytes, payload: str, *, rotate_s: int, now: datetime | None = None,
             now_s: float | None = None) -> dict[str, Any]:
    """Admit the ticket once.

    Raises Forbidden (403) when the code is refused (``result``: invalid_signature, expired,
    not_yet_valid, static_refused, rotating_refused; ``detail`` is what to tell the fan), Conflict
    (409, result checked_in with ``checked_in_at``, or void) if the ticket cannot be admitted.
    Returns ``{"result": "admitted", "checked_in_at", "ticket"}``."""
    reading = read(secret, payload, rotate_s=rotate_s, now_s=now_s)
    ticket = reading.ticket
    if ticket is None or reading.refusal is not None:
        refusal = reading.refusal or "invalid_signature"
        CHECK_INS.labels(refusal).inc()
        raise Forbidden(MESSAGES[refusal], reason=refusal, result=refusal,
                        ticket=None if ticket is None else scan_document(ticket))
    now = now or utcnow()
    # The owner and secret the code was checked against: a transfer committed since then
    # changes both, and this UPDATE then admits nobody.
    same_secret = Ticket.secret.is_null() if ticket.secret is None else Ticket.secret == ticket.secret
    won = (Ticket.update(status="checked_in", checked_in_at=now)
           .where(Ticket.id == ticket.id, Ticket.status == "valid", Ticket.user_id == ticket.user_id, same_secret)
           .execute())
    current = Ticket.get_by_id(ticket.id)
    document = scan_document(current)
    if won:
        CHECK_INS.labels("admitted").inc()
        log.info("ticket checked in", extra={"event_id": str(current.event_id), "user_id": current.user_id, "code": current.code})
        return {"result": "admitted", "checked_in_at": iso(current.checked_in_at), "ticket": document}
    if current.status == "checked_in":
        CHECK_INS.labels("already_checked_in").inc()
        raise Conflict(f"Already checked in at {iso(current.checked_in_at)}", reason="already_checked_in",
                       result="checked_in", checked_in_at=iso(current.checked_in_at), ticket=document)
    if current.status == "valid":  # transferred between our check and our UPDATE
        CHECK_INS.labels("invalid_signature").inc()
        raise Forbidden(MESSAGES["invalid_signature"], reason="invalid_signature", result="invalid_signature", ticket=None)
    CHECK_INS.labels("void").inc()
    raise Conflict("This ticket is void", reason="ticket_void", result="void", checked_in_at=None, ticket=document)
