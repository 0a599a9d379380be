"""Catalogue request schemas. Every field rule lives here (bounds from models.catalog.rules);
the services check what needs stored state (status moves, sold + held, PATCH time order)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
)

from models.catalog import rules
from web.schemas.text import MultiLine, SingleLine


def _iso_string(value: object) -> object:
    # pydantic would read a bare number as a Unix time; the contract is ISO 8601 text.
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 timestamp string with a time zone, e.g. 2030-05-01T19:30:00Z")
    return value


def _utc_in_range(value: datetime) -> datetime:
    if not rules.YEAR_MIN <= value.year <= rules.YEAR_MAX:
        raise ValueError(f"must be between the years {rules.YEAR_MIN} and {rules.YEAR_MAX}")
    return value.astimezone(UTC)


def _known_zone(value: str) -> str:
    if not rules.is_time_zone(value):
        raise ValueError("must be an IANA time zone name, e.g. America/Los_Angeles or Europe/Berlin")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_string), AfterValidator(_utc_in_range)]
EventName = Annotated[SingleLine, Field(min_length=1, max_length=rules.EVENT_NAME_MAX)]
Venue = Annotated[SingleLine, Field(min_length=1, max_length=rules.VENUE_MAX)]
Description = Annotated[MultiLine, Field(max_length=rules.DESCRIPTION_MAX)]
TierName = Annotated[SingleLine, Field(min_length=1, max_length=rules.TIER_NAME_MAX)]
# Strict: JSON true or "12" is not a number of cents.
PriceCents = Annotated[int, Strict(), Field(ge=0, le=rules.PRICE_CENTS_MAX)]
Capacity = Annotated[int, Strict(), Field(ge=rules.CAPACITY_MIN, le=rules.CAPACITY_MAX)]
PerUserLimit = Annotated[int, Strict(), Field(ge=rules.PER_USER_LIMIT_MIN, le=rules.PER_USER_LIMIT_MAX)]
WaveSize = Annotated[int, Strict(), Field(ge=rules.WAVE_SIZE_MIN, le=rules.WAVE_SIZE_MAX)]
WaveInterval = Annotated[float, Strict(), Field(ge=rules.WAVE_INTERVAL_MIN_S, le=rules.WAVE_INTERVAL_MAX_S)]
TimeZone = Annotated[str, Field(min_length=1, max_length=rules.TIMEZONE_MAX), AfterValidator(_known_zone)]
Status = Literal["draft", "scheduled", "on_sale", "closed", "canceled"]
InitialStatus = Literal["draft", "scheduled", "on_sale"]
TicketMode = Literal["rotating", "static", "both"]

#: Seconds after purchase a fan may cancel an order (0 = not allowed; at most a year).
SelfCancelWindow = Annotated[int, Strict(), Field(ge=0, le=rules.SELF_CANCEL_WINDOW_MAX_S)]

_CONFIG = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EventCreate(BaseModel):
    """POST /admin/events. Times need a zone; on_sale_at must precede starts_at."""

    model_config = _CONFIG

    name: EventName
    venue: Venue
    description: Description = ""
    starts_at: Timestamp
    on_sale_at: Timestamp
    status: InitialStatus = "draft"
    wave_size: WaveSize | None = None
    wave_interval_s: WaveInterval | None = None
    #: The venue's time zone (IANA name): pages show the event's times in it.
    timezone: TimeZone = rules.DEFAULT_TIMEZONE
    #: How long after purchase fans may cancel their orders, in seconds (null = the
    #: SELF_CANCEL_WINDOW_S default; 0 = not allowed).
    self_cancel_window_s: SelfCancelWindow | None = None
    #: Codes the gate takes: the phone's live rotating code, the printed static one, or both.
    ticket_mode: TicketMode = "both"

    @field_validator("on_sale_at")
    @classmethod
    def _before_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        starts_at = info.data.get("starts_at")  # absent when starts_at itself failed
        if starts_at is not None and not value < starts_at:
            raise ValueError("must be before starts_at")
        return value


def _hide_refused_nulls(schema: dict, model: type) -> None:
    # The fields are Optional only so that "absent" is representable; the document should not
    # advertise a null that the validator refuses.
    for name, prop in schema.get("properties", {}).items():
        variants = prop.get("anyOf")
        if name not in model.NULLABLE and variants and {"type": "null"} in variants:
            rest = [v for v in variants if v != {"type": "null"}]
            del prop["anyOf"]
            prop.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        prop.pop("default", None)


class _Patch(BaseModel):
    # Absent fields stay as they are; null is refused except where it means "server default".
    model_config = ConfigDict(**_CONFIG, json_schema_extra=_hide_refused_nulls)
    #: Fields that accept null (null = go back to the server default).
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name not in cls.NULLABLE:
            raise ValueError("may not be null; leave the field out to keep it")
        return value

    def changes(self) -> dict:
        """Only the fields the client sent."""
        return self.model_dump(exclude_unset=True)


class EventPatch(_Patch):
    """PATCH /admin/events/{id}: any subset of the create fields; status follows the lifecycle."""

    NULLABLE = frozenset({"wave_size", "wave_interval_s", "self_cancel_window_s"})

    name: EventName | None = None
    venue: Venue | None = None
    description: Description | None = None
    starts_at: Timestamp | None = None
    on_sale_at: Timestamp | None = None
    status: Status | None = None
    wave_size: WaveSize | None = None
    wave_interval_s: WaveInterval | None = None
    timezone: TimeZone | None = None
    self_cancel_window_s: SelfCancelWindow | None = None
    ticket_mode: TicketMode | None = None


class TierCreate(BaseModel):
    """POST /admin/tiers."""

    model_config = _CONFIG

    event_id: uuid.UUID
    name: TierName
    price_cents: PriceCents
    capacity: Capacity
    per_user_limit: PerUserLimit = 4


class TierPatch(_Patch):
    """PATCH /admin/tiers/{id}: capacity may not go below sold + held."""

    name: TierName | None = None
    price_cents: PriceCents | None = None
    capacity: Capacity | None = None
    per_user_limit: PerUserLimit | None = None


class TierListQuery(BaseModel):
    """GET /admin/tiers?event_id=: all tiers, or one event's."""

    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID | None = None
