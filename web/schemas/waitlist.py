"""Waitlist and order-cancellation schemas."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from web.schemas.common import OrderFields, Quantity, TierRequestView

WaitlistStatus = Literal["waiting", "offered", "purchased", "lapsed", "left", "canceled"]


class WaitlistJoin(BaseModel):
    """POST /events/{id}/waitlist. ``quantity`` is also capped by the tier's per_user_limit."""

    model_config = ConfigDict(extra="forbid")

    tier_id: uuid.UUID
    quantity: Annotated[Quantity, Field(description=(
        "Tickets wanted; at most the tier's per_user_limit (a rule of the stored tier: 422 naming quantity above it)"))]


class WaitlistOffer(BaseModel):
    #: The hold granted to you: open a checkout session with it before ``expires_at``.
    reservation_id: uuid.UUID
    quantity: int
    expires_at: str
    checkout_path: str


class _Named(BaseModel):
    id: uuid.UUID
    name: str


class _WaitlistEvent(_Named):
    status: str


class _WaitlistTier(_Named):
    price_cents: int


class WaitlistEntryView(TierRequestView):
    status: WaitlistStatus
    #: Your waiting-room place when you joined (null: you never queued; you rank after those who did).
    position: int | None = None
    #: Fans waiting before you on this tier's waitlist (while waiting).
    ahead: int | None = None
    joined_at: str
    #: The outstanding offer, while it lasts.
    offer: WaitlistOffer | None = None
    event: _WaitlistEvent
    tier: _WaitlistTier


class WaitlistList(BaseModel):
    entries: list[WaitlistEntryView]


class Refund(BaseModel):
    amount_cents: int
    refunded_at: str
    #: admin, fan, or event_canceled.
    reason: str


class OrderView(OrderFields):
    event_id: uuid.UUID
    tier_id: uuid.UUID
    user_id: str
    created_at: str
    refunded_at: str | None = None
    refund_cents: int | None = None
    refund: Refund | None = None
