"""Catalogue response shapes, for the OpenAPI document (models.catalog.render builds the
actual dicts; tests validate responses against these, so the two cannot drift apart)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, RootModel


class PublicTier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    price_cents: int
    capacity: int
    per_user_limit: int


class AdminTier(PublicTier):
    sold: int
    held: int
    created_at: datetime
    updated_at: datetime


class PublicEvent(BaseModel):
    """An event as fans see it; wave_size / wave_interval_s are null when server defaults apply."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    name: str
    venue: str
    description: str
    starts_at: datetime
    on_sale_at: datetime
    #: The venue's IANA time zone, e.g. America/Los_Angeles.
    timezone: str
    status: str
    paused: bool
    wave_size: int | None
    wave_interval_s: float | None
    #: Seconds after purchase fans may cancel orders (null = the server default, 0 = not allowed).
    self_cancel_window_s: int | None = None
    #: Codes the gate takes: "rotating" (the live phone code), "static" (printed) or "both".
    ticket_mode: str


class EventSummary(PublicEvent):
    """A GET /events entry: price range (null without tiers) and whether every tier sold out."""

    price_min_cents: int | None
    price_max_cents: int | None
    sold_out: bool


class EventDetail(PublicEvent):
    tiers: list[PublicTier]


class AdminEvent(PublicEvent):
    created_at: datetime
    updated_at: datetime
    tiers: list[AdminTier]


class EventSummaryList(RootModel[list[EventSummary]]):
    pass


class AdminEventList(RootModel[list[AdminEvent]]):
    pass


class AdminTierList(RootModel[list[AdminTier]]):
    pass
