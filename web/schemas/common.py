"""Schema pieces that more than one resource shares."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

from models.catalog.rules import PER_USER_LIMIT_MAX
from web.schemas.numbers import whole_number

#: Tickets of one tier (a whole number; the stored tier's per_user_limit caps it further).
Quantity = whole_number(ge=1, le=PER_USER_LIMIT_MAX)

OrderStatus = Literal["paid", "refunded"]


class TierRequestView(BaseModel):
    """A fan's request for ``quantity`` tickets of one tier of an event: a reservation, a waitlist entry."""

    id: uuid.UUID
    event_id: uuid.UUID
    tier_id: uuid.UUID
    quantity: int


class OrderFields(BaseModel):
    """What every view of an order says: its id, whether it is paid or refunded, and for how much."""

    id: uuid.UUID
    status: OrderStatus
    quantity: int
    amount_cents: int
