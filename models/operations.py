"""Operator controls and views: pause/resume, the event status document, scrape-time gauges.

Pause semantics: a paused event admits no wave, ``canEnter`` is false for fans not yet
admitted, and new reservation requests are refused with 409 ``event_paused``. Holds already
granted keep their TTL and may still check out; admission windows already open keep running.
All functions here are blocking (Peewee + a sync Redis client): the web tier runs them in
its database threads.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import peewee
import redis.exceptions

from models.catalog import update_event
from models.catalog.statuses import SELLING_STATUSES
from models.db import database
from models.errors import NotFound
from models.keys import Keys
from models.settings import Settings
from models.tables import Event, Order, Reservation, TicketTier, WaitlistEntry, utcnow
from models.waiting_room import queue_stats

log = logging.getLogger("ticketdrop.operations")

#: The reservation and order rates in the status document are averaged over this, in seconds.
RATE_WINDOW_S = 60
#: The waiting room's queue_stats fields the status document shows under ``queue``.
QUEUE_FIELDS = ("total", "waiting", "admitted", "expired", "used", "prequeue_size")
_REDIS_ERRORS = (redis.exceptions.RedisError, OSError)


def set_paused(event_id: uuid.UUID | str, paused: bool) -> bool:
    """Pause (``paused=True``) or resume an event; idempotent.

    Raises NotFound (field path.id) for an unknown event. Returns True if the flag changed.
    """
    with database.atomic():
        changed = (Event.update(paused=paused, updated_at=utcnow())
                   .where((Event.id == event_id) & (Event.paused != paused)).execute())
        if not changed and not Event.select().where(Event.id == event_id).exists():
            raise NotFound(f"No event {event_id}", field="id")
    log.info("event paused" if paused else "event resumed", extra={"event_id": str(event_id), "changed": bool(changed)})
    return bool(changed)


def set_waves(event_id: uuid.UUID | str, changes: dict[str, Any]) -> None:
    """Change the event's ``wave_size`` and/or ``wave_interval_s`` (the catalogue's PATCH rules).

    Raises NotFound (field path.id). The waiting room's next tick reads the new values.
    """
    update_event(event_id, changes)
    log.info("event waves changed", extra={"event_id": str(event_id), **changes})


def _tier_rows(event_id: uuid.UUID | str, now) -> list[dict[str, Any]]:
    live = dict(
        Reservation.select(Reservation.tier, peewee.fn.COUNT(Reservation.id))
        .where((Reservation.event == event_id) & (Reservation.status == "held") & (Reservation.expires_at > now))
        .group_by(Reservation.tier).tuples()
    )
    waiting = dict(
        WaitlistEntry.select(WaitlistEntry.tier, peewee.fn.COUNT(WaitlistEntry.id))
        .where((WaitlistEntry.event == event_id) & (WaitlistEntry.status == "waiting"))
        .group_by(WaitlistEntry.tier).tuples()
    )
    offers = dict(
        WaitlistEntry.select(WaitlistEntry.tier, peewee.fn.COUNT(WaitlistEntry.id))
        .join(Reservation, on=(WaitlistEntry.reservation_id == Reservation.id))
        .where((WaitlistEntry.event == event_id) & (WaitlistEntry.status == "offered") & (Reservation.status == "held")
               & (Reservation.expires_at > now))
        .group_by(WaitlistEntry.tier).tuples()
    )
    tiers = TicketTier.select().where(TicketTier.event == event_id).order_by(TicketTier.price_cents, TicketTier.name)
    return [
        {"tier_id": str(t.id), "name": t.name, "capacity": t.capacity, "sold": t.sold, "held": t.held,
         "remaining": t.capacity - t.sold - t.held, "live_holds": live.get(t.id, 0),
         "waitlist": waiting.get(t.id, 0), "offers_outstanding": offers.get(t.id, 0)}
        for t in tiers
    ]


def _redis_view(redis: Any, keys: Keys, event_id: str, wave_size: int, wave_interval_s: float) -> tuple[dict | None, dict | None]:
    """The waiting-room queue stats and the Redis stock hash, or (None, None) if Redis is down."""
    try:
        stats = queue_stats(redis, keys, event_id, wave_size=wave_size, wave_interval_s=wave_interval_s)
        return stats, redis.hgetall(keys.stock(event_id))
    except _REDIS_ERRORS as exc:
        log.warning("status without Redis", extra={"event_id": event_id, "error": type(exc).__name__})
        return None, None


def event_status(redis: Any, keys: Keys, settings: Settings, event_id: uuid.UUID | str) -> dict[str, Any]:
    """The admin status document of one event (database truth for stock, Redis for the queue).

    Raises NotFound (field path.id). When Redis is down, ``queue`` is null and ``degraded``
    lists ``redis``; the database parts are still there.
    """
    event = Event.get_or_none(Event.id == event_id)
    if event is None:
        raise NotFound(f"No event {event_id}", field="id")
    now = utcnow()
    since = now - timedelta(seconds=RATE_WINDOW_S)
    tiers = _tier_rows(event.id, now)
    recent_reservations = Reservation.select().where((Reservation.event == event.id) & (Reservation.created_at >= since)).count()
    recent_orders = Order.select().where((Order.event == event.id) & (Order.created_at >= since)).count()
    orders_paid = Order.select().where((Order.event == event.id) & (Order.status == "paid")).count()
    orders_refunded = Order.select().where((Order.event == event.id) & (Order.status == "refunded")).count()
    wave_size = event.wave_size or settings.wave_size
    wave_interval_s = event.wave_interval_s or settings.wave_interval_s
    queue, stock = _redis_view(redis, keys, str(event.id), wave_size, wave_interval_s)
    for tier in tiers:
        raw = None if stock is None else stock.get(tier["tier_id"])
        tier["redis_available"] = int(raw) if raw is not None else None
    totals = {k: sum(t[k] for t in tiers)
              for k in ("capacity", "sold", "held", "remaining", "live_holds", "waitlist", "offers_outstanding")}
    return {
        "event_id": str(event.id),
        "name": event.name,
        "status": event.status,
        "paused": bool(event.paused),
        **totals,
        "tiers": tiers,
        "queue": None if queue is None else {k: queue.get(k) for k in QUEUE_FIELDS},
        "admitted_up_to": None if queue is None else queue.get("admitted_up_to"),
        "admission_rate_per_s": None if queue is None else queue.get("admission_rate_per_s"),
        "wave_size": wave_size,
        "wave_interval_s": wave_interval_s,
        "wave_overridden": event.wave_size is not None or event.wave_interval_s is not None,
        "orders_paid": orders_paid,
        "orders_refunded": orders_refunded,
        "reservation_rate_per_s": round(recent_reservations / RATE_WINDOW_S, 3),
        "order_rate_per_s": round(recent_orders / RATE_WINDOW_S, 3),
        "degraded": [] if queue is not None else ["redis"],
        "as_of": now,
    }


def _database_samples() -> tuple[list[str], dict[str, list]]:
    event_ids = [str(e) for (e,) in Event.select(Event.id).where(Event.status.in_(SELLING_STATUSES)).tuples()]
    if not event_ids:
        return [], {}
    now = utcnow()
    holds = {
        str(ev): n for ev, n in Reservation.select(Reservation.event, peewee.fn.COUNT(Reservation.id))
        .where((Reservation.status == "held") & (Reservation.expires_at > now)).group_by(Reservation.event).tuples()
    }
    tiers = list(TicketTier.select().where(TicketTier.event.in_(event_ids)))
    return event_ids, {
        "ticketdrop_active_holds": [((ev,), holds.get(ev, 0)) for ev in event_ids],
        "ticketdrop_held_tickets": [((str(t.event_id), str(t.id)), t.held) for t in tiers],
        "ticketdrop_remaining_tickets": [((str(t.event_id), str(t.id)), t.capacity - t.sold - t.held) for t in tiers],
    }


def _redis_samples(redis: Any, keys: Keys, event_ids: list[str]) -> dict[str, list]:
    queues, mailboxes = [], []
    for ev in event_ids:
        stats = queue_stats(redis, keys, ev)
        queues += [((ev, state), stats.get(state) or 0) for state in ("waiting", "admitted", "expired")]
        mailboxes.append(((ev,), redis.llen(keys.mailbox(ev))))
    return {"ticketdrop_queue_length": queues, "ticketdrop_reservation_mailbox_length": mailboxes}


def live_samples(redis: Any, keys: Keys) -> dict[str, list[tuple[tuple[str, ...], float]]]:
    """Samples for models.metrics.LIVE_GAUGES over the scheduled and on-sale events.

    Never raises: a scrape reports what it can, the gauges of a source that failed are left
    out and ``ticketdrop_metrics_source_up{source}`` says 0.
    """
    samples: dict[str, list] = {}
    up: list = []
    event_ids: list[str] = []
    try:
        event_ids, found = _database_samples()
        samples.update(found)
        up.append((("database",), 1))
    except Exception:  # noqa: BLE001 - see the docstring
        log.warning("metrics scrape without the database", exc_info=True)
        up.append((("database",), 0))
    try:
        samples.update(_redis_samples(redis, keys, event_ids))
        up.append((("redis",), 1))
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("metrics scrape without Redis", exc_info=not isinstance(exc, _REDIS_ERRORS))
        up.append((("redis",), 0))
    samples["ticketdrop_metrics_source_up"] = up
    return samples
