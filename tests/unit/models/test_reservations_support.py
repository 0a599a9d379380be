"""Helpers for the reservation tests (no tests here): events made with Peewee, requests put
straight into the mailbox, and a drain run in the test's thread."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from models.keys import reservation_id
from models.reservations.drain import DrainReport, drain
from models.reservations.queue import Request, enqueue
from models.tables import Event, Order, TicketTier
from tests import factories

#: An event on sale since an hour, starting in 30 days, admitting 1000 a wave.
make_event = partial(factories.make_event, name="Taylor Swift", venue="SoFi Stadium", starts_in_s=30 * 86_400,
                     wave_size=1000)
#: A tier of 10 at 150.00, four per fan.
make_tier = partial(factories.make_tier, price_cents=15_000, capacity=10, per_user_limit=4)


def make_paid_order(tier: TicketTier, user_id: str, quantity: int) -> Order:
    """A paid order (its tickets counted as sold), as checkout would leave it."""
    from models.tables import CheckoutSession, Reservation

    reservation = Reservation.create(id=reservation_id(str(tier.event_id)), event=tier.event_id, tier=tier.id, user_id=user_id,
                                     quantity=quantity, status="converted")
    session = CheckoutSession.create(reservation=reservation.id, user_id=user_id, idempotency_key=uuid.uuid4().hex,
                                     amount_cents=tier.price_cents * quantity, status="paid")
    TicketTier.update(sold=TicketTier.sold + quantity).where(TicketTier.id == tier.id).execute()
    return Order.create(session=session.id, user_id=user_id, event=tier.event_id, tier=tier.id, quantity=quantity,
                        amount_cents=session.amount_cents)


def request(rt: Any, tier: TicketTier, user_id: str, quantity: int = 1) -> str:
    """Queue a request as the web tier would after its checks; returns its id. Asserts it was accepted."""
    rid = reservation_id(str(tier.event_id))
    kind, _ = enqueue(rt.redis, rt.keys, rt.settings.event_purchase_limit,
                      Request(rid, str(tier.event_id), str(tier.id), user_id, quantity, token="tok"))
    assert kind == "accepted", kind
    return rid


class Resends(list):
    """Collects the drain messages a run asks for (delay in ms, None = now)."""

    def __call__(self, delay_ms: int | None) -> None:
        self.append(delay_ms)


def drain_now(rt: Any, event_id: Any, **kwargs: Any) -> DrainReport:
    """One drain run in this thread, without lingering on an empty mailbox."""
    kwargs.setdefault("linger_s", 0)
    return drain(rt, str(event_id), kwargs.pop("resend", Resends()), **kwargs)


def rejected_request(rt: Any) -> tuple[Event, TicketTier, str]:
    """A one-ticket tier that ann's request took, then bob's request for it, drained (rejected,
    sold out): (event, tier, bob's reservation id)."""
    event = make_event()
    tier = make_tier(event, capacity=1)
    request(rt, tier, "ann")
    rid = request(rt, tier, "bob")
    drain_now(rt, event.id)
    return event, tier, rid


def record(rt: Any, rid: str) -> dict[str, str]:
    return rt.redis.hgetall(rt.keys.reservation(rid))


def stock(rt: Any, tier: TicketTier) -> tuple[int, int]:
    """(available, held) in the Redis stock hash."""
    raw = rt.redis.hgetall(rt.keys.stock(str(tier.event_id)))
    return int(raw[str(tier.id)]), int(raw[f"held:{tier.id}"])


def db_counts(tier: TicketTier) -> tuple[int, int]:
    """(sold, held) in the database."""
    fresh = TicketTier.get_by_id(tier.id)
    return fresh.sold, fresh.held
