"""Which events have a live waiting room, seen from the scheduler (blocking database reads)."""

from __future__ import annotations

from datetime import UTC, datetime

from peewee import JOIN

from models.catalog.snapshot import EventSnapshot, snapshot_of
from models.catalog.statuses import SELLING_STATUSES
from models.tables import Event, FairnessRecord


def selling_events(now_ms: int, default_wave_size: int, default_interval_s: float) -> list[EventSnapshot]:
    """Scheduled or on-sale events whose on-sale instant has passed."""
    cutoff = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    return _sale_events(Event.status.in_(SELLING_STATUSES) & (Event.on_sale_at <= cutoff), default_wave_size, default_interval_s)


def upcoming_events(now_ms: int, default_wave_size: int, default_interval_s: float) -> list[EventSnapshot]:
    """Scheduled or on-sale events whose on-sale instant is still ahead (fans join the pre-queue)."""
    cutoff = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    return _sale_events(Event.status.in_(SELLING_STATUSES) & (Event.on_sale_at > cutoff), default_wave_size, default_interval_s)


def _sale_events(where: object, default_wave_size: int, default_interval_s: float) -> list[EventSnapshot]:
    return [snapshot_of(e, default_wave_size, default_interval_s) for e in Event.select().where(where)]


def events_without_commitment() -> list[str]:
    """Public, not finished events that have no fairness commitment yet."""
    rows = (Event.select(Event.id).join(FairnessRecord, on=(FairnessRecord.event == Event.id), join_type=JOIN.LEFT_OUTER)
            .where(Event.status.in_(SELLING_STATUSES) & FairnessRecord.event.is_null()))
    return [str(e.id) for e in rows]
