"""Checkout, order and ticket schemas: requests (unknown fields are 422) and the documented
response shapes (tests validate real responses against them, so they cannot drift apart)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from web.schemas.common import OrderFields
from web.schemas.text import SingleLine


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reservation_id: uuid.UUID = Field(description="A reservation of yours in status held")


class ConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkoutId: uuid.UUID = Field(description="The checkout session id")  # noqa: N815 - the prototype's field name
    simulate: Literal["success", "fail"] = Field("success", description="What the simulated payment gateway answers")


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payload: SingleLine = Field(min_length=1, max_length=512, description="The string the ticket's QR code encodes: the "
                                "printed TD1.<code>.<event>.<tier>.<sig> or the phone's rotating <code>.<step>.<mac>")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketSummary(_Out):
    code: str
    seq: int
    status: Literal["valid", "checked_in", "void"]
    qr_sig: str
    qr_payload: str = Field(description="TD1.<code>.<event_id>.<tier_id>.<qr_sig>")
    checked_in_at: datetime | None


class CheckoutSession(_Out):
    id: uuid.UUID
    checkoutId: uuid.UUID  # noqa: N815
    reservation_id: uuid.UUID
    status: Literal["open", "processing", "paid", "failed", "expired"]
    amount_cents: int
    event_id: uuid.UUID
    tier_id: uuid.UUID
    quantity: int
    expires_at: datetime | None = Field(description="When the hold, and so the chance to pay, ends")
    simulate: Literal["success", "fail"] | None
    failure_reason: str | None
    order_id: uuid.UUID | None
    tickets: list[TicketSummary]
    created_at: datetime
    updated_at: datetime


class EventRef(_Out):
    id: uuid.UUID
    name: str
    venue: str
    starts_at: datetime
    #: The venue's IANA time zone.
    timezone: str


class TierRef(_Out):
    id: uuid.UUID
    name: str


class TicketEventRef(EventRef):
    ticket_mode: Literal["rotating", "static", "both"] = Field(
        description="Codes the gate takes: the live rotating code, the printed static one, or both")


class UserTicket(TicketSummary):
    order_id: uuid.UUID
    event: TicketEventRef
    tier: TierRef
    created_at: datetime


class UserTicketList(RootModel[list[UserTicket]]):
    pass


class OrderDocument(OrderFields, _Out):
    checkoutId: uuid.UUID  # noqa: N815
    tickets_issued: int
    event: EventRef
    tier: TierRef
    created_at: datetime
    #: The simulated refund of a canceled order (null while paid).
    refunded_at: datetime | None = None
    refund_cents: int | None = None


class OrderList(RootModel[list[OrderDocument]]):
    pass


class ScanEventRef(_Out):
    id: uuid.UUID
    name: str
    starts_at: datetime
    timezone: str


class ScannedTicket(_Out):
    code: str
    seq: int
    status: Literal["valid", "checked_in", "void"]
    order_id: uuid.UUID
    user_id: str
    checked_in_at: datetime | None
    event: ScanEventRef
    tier: TierRef


class ScanResult(_Out):
    result: Literal["valid", "invalid_signature", "void", "checked_in", "admitted", "expired", "not_yet_valid",
                    "static_refused", "rotating_refused"]
    message: str | None = Field(None, description="For a refusal, what to tell the fan (e.g. 'expired code: ask the "
                                                  "fan to show the live ticket')")
    checked_in_at: datetime | None
    ticket: ScannedTicket | None


class RotatingKey(_Out):
    code: str
    status: Literal["valid", "checked_in"]
    ticket_mode: Literal["rotating", "both"]
    secret: str = Field(description="64 hex digits: this ticket's key. Keep it on the owner's device only")
    rotate_s: int = Field(description="Seconds per step")
    step: int = Field(description="The server's current step")
    server_time_ms: int = Field(description="The server's clock, to correct the device's")
    mac_hex_digits: int
    format: str


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user: str = Field(min_length=1, max_length=128,
                         description="The receiving fan's user id (in jwt mode: the subject their identity provider gives "
                                     "them); not your own (422)")


class TransferDocument(_Out):
    code: str
    event_id: uuid.UUID
    from_user: str
    to_user: str
    transferred_at: datetime
