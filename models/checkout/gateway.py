"""The simulated payment gateway.

Deterministic and idempotent per checkout session: the decision depends only on what the fan
asked for (``simulate``) and the reference only on the session id, so a redelivered confirm
command re-decides exactly as the first delivery did. Authorising moves no money; the charge
is captured by the commit that creates the order (nothing is charged if the hold lapsed).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: What a fan may ask the simulator for.
OUTCOMES = ("success", "fail")


@dataclass(frozen=True)
class Authorization:
    approved: bool
    #: The gateway's reference for this session's payment (same on every call).
    reference: str
    decline_reason: str | None = None


def authorize(session_id: str, amount_cents: int, simulate: str | None) -> Authorization:
    """Authorise ``amount_cents`` for the session. Returns the (repeatable) decision."""
    reference = "sim_" + hashlib.sha256(f"ticketdrop-payment:{session_id}".encode()).hexdigest()[:24]
    if simulate == "success" and amount_cents >= 0:
        return Authorization(True, reference)
    return Authorization(False, reference, "payment_declined")
