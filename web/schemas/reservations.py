"""Reservation request and response schemas."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from web.schemas.common import Quantity, TierRequestView
from web.schemas.text import SingleLine

ReservationStatus = Literal["pending", "held", "rejected", "expired", "released", "converted"]


class ReservationCreate(BaseModel):
    """POST /events/{id}/reservations. ``quantity`` is also capped by the tier's per_user_limit."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tier_id: uuid.UUID
    # A whole number (2.0 is 2); JSON true or "2" is not a quantity.
    quantity: Annotated[Quantity, Field(description=(
        "Tickets to hold; at most the tier's per_user_limit (a rule of the stored tier: 422 naming quantity above it)"))]
    token: Annotated[SingleLine, Field(min_length=1, max_length=256, description=(
        "The waiting-room token join gave you; surrounding whitespace is removed (blank is 422)"))]


class ReservationView(TierRequestView):
    status: ReservationStatus
    #: When the hold lapses (set once granted), UTC ISO 8601.
    expires_at: str | None = None
    #: Why it was rejected or ended: sold_out, limit_exceeded, already_reserved, unknown_tier,
    #: hold_expired, released_by_user, payment_failed.
    reason: str | None = None


class TierAvailability(BaseModel):
    tier_id: uuid.UUID
    name: str
    price_cents: int
    capacity: int
    per_user_limit: int
    #: capacity - sold - live holds.
    remaining: int


class AvailabilityView(BaseModel):
    event_id: uuid.UUID
    tiers: list[TierAvailability]
