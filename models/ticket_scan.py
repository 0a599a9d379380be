"""Scanning at the gate: verify a QR payload, and check a ticket in exactly once.

Verification looks the ticket up by its code and recomputes the signature over the stored
code, event, tier and owner; the comparison is constant-time. Check-in is one conditional
UPDATE valid -> checked_in: when two scanners read the same ticket at the same instant, the
row count names the single winner.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from typing import Any

from models.errors import Conflict, Forbidden
from models.metrics import CHECK_INS
from models.tables import Event, Ticket, TicketTier, utcnow
from models.tickets import PAYLOAD_PREFIX, is_code, iso, sign

log = logging.getLogger("ticketdrop.tickets")


def _parse(payload: str) -> tuple[str, str, str, str] | None:
    parts = payload.strip().split(".")
    if len(parts) != 5 or parts[0] != PAYLOAD_PREFIX or not all(parts[1:]):
        return None
    return parts[1], parts[2], parts[3], parts[4]


def authenticate(secret: bytes, payload: str) -> Ticket | None:
    """The ticket ``payload`` names, if its signature is genuine; None for forged or unknown ones."""
    parsed = _parse(payload)
    if parsed is None:
        return None
    code, event_id, tier_id, given = parsed
    if not is_code(code):
        return None
    ticket = Ticket.get_or_none(Ticket.code == code)
    if ticket is None:
        return None
    expected = sign(secret, ticket.code, str(ticket.event_id), str(ticket.tier_id), ticket.user_id)
    genuine = hmac.compare_digest(expected.encode(), given.encode())
    if not genuine or event_id != str(ticket.event_id) or tier_id != str(ticket.tier_id):
        return None
    return ticket


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


def verify(secret: bytes, payload: str) -> dict[str, Any]:
    """Read-only check. Returns ``{"result": "valid"|"invalid_signature"|"void"|"checked_in",
    "checked_in_at", "ticket"}`` (``ticket`` is null for an invalid signature)."""
    ticket = authenticate(secret, payload)
    if ticket is None:
        return {"result": "invalid_signature", "checked_in_at": None, "ticket": None}
    result = "valid" if ticket.status == "valid" else ticket.status
    return {"result": result, "checked_in_at": iso(ticket.checked_in_at), "ticket": scan_document(ticket)}


def check_in(secret: bytes, payload: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Admit the ticket once.

    Raises Forbidden (403, result invalid_signature) for a forged or unknown payload, Conflict
    (409, result checked_in with ``checked_in_at``, or void) if it cannot be admitted.
    Returns ``{"result": "admitted", "checked_in_at", "ticket"}``."""
    ticket = authenticate(secret, payload)
    if ticket is None:
        CHECK_INS.labels("invalid_signature").inc()
        raise Forbidden("This QR code is not a genuine TicketDrop ticket", reason="invalid_signature",
                        result="invalid_signature")
    now = now or utcnow()
    won = Ticket.update(status="checked_in", checked_in_at=now).where(Ticket.id == ticket.id, Ticket.status == "valid").execute()
    ticket = Ticket.get_by_id(ticket.id)
    document = scan_document(ticket)
    if won:
        CHECK_INS.labels("admitted").inc()
        log.info("ticket checked in", extra={"event_id": str(ticket.event_id), "user_id": ticket.user_id, "code": ticket.code})
        return {"result": "admitted", "checked_in_at": iso(ticket.checked_in_at), "ticket": document}
    if ticket.status == "checked_in":
        CHECK_INS.labels("already_checked_in").inc()
        raise Conflict(f"Already checked in at {iso(ticket.checked_in_at)}", reason="already_checked_in",
                       result="checked_in", checked_in_at=iso(ticket.checked_in_at), ticket=document)
    CHECK_INS.labels("void").inc()
    raise Conflict("This ticket is void", reason="ticket_void", result="void", checked_in_at=None, ticket=document)
