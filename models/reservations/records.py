"""The reservation record as clients see it, whether it is read from Redis or the database.

Redis holds ``keys.reservation(id)`` while a request is pending and for a day after its
decision; the ``reservations`` table holds every decided request for good. Both render
through :func:`view` so a poll answers the same document either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from models.tables import Reservation
from models.timestamps import iso

#: Statuses in which a reservation blocks a new one of the same user and event.
LIVE_STATUSES = frozenset({"pending", "held"})
#: Statuses a hold may be released to (``release_hold``'s ``to_status``).
RELEASE_STATUSES = frozenset({"released", "expired"})
#: How long a decided record stays in Redis, in seconds (polls then read the database).
DECIDED_RECORD_TTL_S = 24 * 3600


def to_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def from_ms(ms: int | str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def truncate_ms(dt: datetime) -> datetime:
    """``dt`` without sub-millisecond digits (so Redis text and database rows agree)."""
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def view(record: Mapping[str, Any], now_ms: int | None = None) -> dict[str, Any]:
    """The public document of a Redis record (str values). A hold past its expiry that the
    sweep has not reached yet already reads "expired"."""
    status = record.get("status") or "pending"
    reason = record.get("reason") or None
    expires_ms = record.get("expires_ms") or ""
    if status == "held" and now_ms is not None and expires_ms and int(expires_ms) <= now_ms:
        status, reason = "expired", "hold_expired"
    return {
        "id": record["id"],
        "event_id": record.get("event_id"),
        "tier_id": record.get("tier_id"),
        "quantity": int(record.get("quantity") or 0),
        "status": status,
        "expires_at": record.get("expires_at") or None,
        "reason": reason,
    }


def row_view(row: Any, now_ms: int | None = None) -> dict[str, Any]:
    """The public document of a ``Reservation`` row."""
    return view(row_record(row), now_ms)


def row_record(row: Any) -> dict[str, str]:
    """A ``Reservation`` row in the Redis record's shape (str values)."""
    return {
        "id": str(row.id),
        "event_id": str(row.event_id),
        "tier_id": str(row.tier_id),
        "user_id": row.user_id,
        "quantity": str(row.quantity),
        "status": row.status,
        "reason": row.reason or "",
        "expires_at": iso(row.expires_at) or "",
        "expires_ms": str(to_ms(row.expires_at)) if row.expires_at else "",
    }


def load_record(reservation_id: str) -> dict[str, str] | None:
    """The database row of a reservation in the record's shape, or None (blocking)."""
    row = Reservation.get_or_none(Reservation.id == reservation_id)
    return row_record(row) if row is not None else None
