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
from web.schemas.numbers import whole_number
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


#: The years the document's pattern allows (rules.YEAR_MIN..YEAR_MAX = 2000..2100).
_YEARS_PATTERN = r"^(?:20[0-9]{2}|2100)-"
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_string), AfterValidator(_utc_in_range),
                      Field(json_schema_extra={"pattern": _YEARS_PATTERN})]
EventName = Annotated[SingleLine, Field(min_length=1, max_length=rules.EVENT_NAME_MAX)]
Venue = Annotated[SingleLine, Field(min_length=1, max_length=rules.VENUE_MAX)]
Description = Annotated[MultiLine, Field(max_length=rules.DESCRIPTION_MAX)]
TierName = Annotated[SingleLine, Field(min_length=1, max_length=rules.TIER_NAME_MAX)]
# Whole numbers (12.0 is 12); JSON true or "12" is not a number of cents.
PriceCents = whole_number(ge=0, le=rules.PRICE_CENTS_MAX)
Capacity = whole_number(ge=rules.CAPACITY_MIN, le=rules.CAPACITY_MAX)
PerUserLimit = whole_number(ge=rules.PER_USER_LIMIT_MIN, le=rules.PER_USER_LIMIT_MAX)
WaveSize = whole_number(ge=rules.WAVE_SIZE_MIN, le=rules.WAVE_SIZE_MAX)
WaveInterval = Annotated[float, Strict(), Field(ge=rules.WAVE_INTERVAL_MIN_S, le=rules.WAVE_INTERVAL_MAX_S)]
TimeZone = Annotated[str, Field(min_length=1, max_length=rules.TIMEZONE_MAX), AfterValidator(_known_zone)]
Status = Literal["draft", "scheduled", "on_sale", "closed", "canceled"]
InitialStatus = Literal["draft", "scheduled", "on_sale"]
TicketMode = Literal["rotating", "static", "both"]

#: Seconds after purchase a fan may cancel an order (0 = not allowed; at most a year).
SelfCancelWindow = whole_number(ge=0, le=rules.SELF_CANCEL_WINDOW_MAX_S)

_CONFIG = ConfigDict(extra="forbid", str_strip_whitespace=True)
_TIMESTAMP = (f"ISO 8601 text with a time zone, e.g. 2030-05-01T19:30:00Z, between the years {rules.YEAR_MIN} and "
              f"{rules.YEAR_MAX}")
_TIMEZONE = "An IANA time zone name, e.g. Europe/Berlin (another name is 422)"
_PATCH_TIMES = "After the change (stored values count for a field not sent) on_sale_at must be before starts_at (422). "


class EventCreate(BaseModel):
    """POST /admin/events. Times need a zone; on_sale_at must precede starts_at."""

    model_config = _CONFIG

    name: EventName
    venue: Venue
    description: Description = ""
    starts_at: Timestamp = Field(description=_TIMESTAMP)
    on_sale_at: Timestamp = Field(description="Must be before starts_at (422 naming on_sale_at). " + _TIMESTAMP)
    status: InitialStatus = "draft"
    wave_size: WaveSize | None = None
    wave_interval_s: WaveInterval | None = None
    #: The venue's time zone (IANA name): pages show the event's times in it.
    timezone: TimeZone = Field(rules.DEFAULT_TIMEZONE, description=_TIMEZONE)
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
    starts_at: Timestamp | None = Field(None, description=_PATCH_TIMES + _TIMESTAMP)
    on_sale_at: Timestamp | None = Field(None, description=_PATCH_TIMES + _TIMESTAMP)
    status: Status | None = Field(None, description=(
        "Moves follow the lifecycle draft -> scheduled -> on_sale -> closed, canceled from any but closed; another "
        "move is 409 (docs/catalogue.md)"))
    wave_size: WaveSize | None = None
    wave_interval_s: WaveInterval | None = None
    timezone: TimeZone | None = Field(None, description=_TIMEZONE)
    self_cancel_window_s: SelfCancelWindow | None = None
    ticket_mode: TicketMode | None = None


class TierCreate(BaseModel):
    """POST /admin/tiers."""

    model_config = _CONFIG

    event_id: uuid.UUID = Field(description="An existing event (422 naming event_id otherwise)")
    name: TierName
    price_cents: PriceCents
    capacity: Capacity
    per_user_limit: PerUserLimit = 4


class TierPatch(_Patch):
    """PATCH /admin/tiers/{id}: capacity may not go below sold + held."""

    name: TierName | None = None
    price_cents: PriceCents | None = None
    capacity: Capacity | None = Field(None, description="Not below the tier's sold + held tickets (409 otherwise)")
    per_user_limit: PerUserLimit | None = None


class TierListQuery(BaseModel):
    """GET /admin/tiers?event_id=: all tiers, or one event's."""

    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID | None = None
