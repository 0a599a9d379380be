"""Every actor, declared on the broker an entry point built: :func:`declare_actors`.

The actors' bodies are plain functions in ``workers/reservations.py``, ``checkout.py``,
``orders.py`` and ``system.py``; nothing is bound to a broker when they are imported. Actor names
are the functions' names, so messages sent by an older release still find their actor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dramatiq

from models.settings import Settings
from workers import checkout, orders, reservations, system
from workers.broker import queue


@dataclass(frozen=True)
class Actors:
    """The actors of one broker."""

    drain_event: dramatiq.Actor
    settle_checkouts: dramatiq.Actor
    confirm_checkout: dramatiq.Actor
    issue_tickets: dramatiq.Actor
    expire_checkout: dramatiq.Actor
    refund_event: dramatiq.Actor
    echo: dramatiq.Actor


def declare_actors(broker: dramatiq.Broker, settings: Settings) -> Actors:
    """Declare every actor on ``broker``: queues named QUEUE_PREFIX + name, ACTOR_MAX_RETRIES."""

    def actor(fn: Callable, name: str, *, time_limit_ms: int, max_retries: int = settings.actor_max_retries) -> dramatiq.Actor:
        return dramatiq.actor(fn, broker=broker, queue_name=queue(settings, name), max_retries=max_retries,
                              time_limit=time_limit_ms)

    return Actors(
        drain_event=actor(reservations.drain_event, "reservations", time_limit_ms=reservations.TIME_LIMIT_MS),
        settle_checkouts=actor(checkout.settle_checkouts, "checkout", time_limit_ms=checkout.TIME_LIMIT_MS),
        confirm_checkout=actor(checkout.confirm_checkout, "checkout", time_limit_ms=checkout.TIME_LIMIT_MS),
        issue_tickets=actor(checkout.issue_tickets, "checkout", time_limit_ms=checkout.TIME_LIMIT_MS),
        expire_checkout=actor(checkout.expire_checkout, "checkout", time_limit_ms=checkout.TIME_LIMIT_MS),
        refund_event=actor(orders.refund_event, "checkout", time_limit_ms=orders.TIME_LIMIT_MS),
        echo=actor(system.echo, "system", time_limit_ms=system.TIME_LIMIT_MS, max_retries=0),
    )
