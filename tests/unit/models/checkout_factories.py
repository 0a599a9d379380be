"""Rows for checkout and ticket tests, made directly with Peewee (no waiting room needed):
an on-sale event, a tier, a held reservation with the tier's ``held`` count moved to match."""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial
from typing import Any

from models.keys import reservation_id
from models.tables import CheckoutSession, Order, Reservation, TicketTier, utcnow
from tests import factories

#: An event on sale since an hour, starting in 30 days (tests read its name on tickets).
make_event = partial(factories.make_event, name="Bad Bunny", venue="Estadio, San Juan", starts_in_s=30 * 86_400)
#: A tier of 10 at 125.00, four per fan (of a new such event unless one is given).
make_tier = partial(factories.make_tier, new_event=make_event, price_cents=12_500, capacity=10, per_user_limit=4)


def make_hold(tier: TicketTier, user_id: str = "fan-1", quantity: int = 2, *, ttl_s: float = 180,
              status: str = "held", redis: Any = None, keys: Any = None) -> Reservation:
    """A decided reservation; a live hold also moves the tier's held count (and, given a Redis
    client, rebuilds the event's Redis counters from the database)."""
    reservation = Reservation.create(
        id=reservation_id(str(tier.event_id)), event=tier.event_id, tier=tier.id, user_id=user_id, quantity=quantity, status=status,
        expires_at=utcnow() + timedelta(seconds=ttl_s) if status in ("held", "expired") else None,
    )
    if status == "held":
        TicketTier.update(held=TicketTier.held + quantity).where(TicketTier.id == tier.id).execute()
    if redis is not None:
        from models.inventory import rebuild_counters

        rebuild_counters(redis, keys, str(tier.event_id))
    return reservation


def lapse(reservation: Reservation) -> None:
    """Move the hold's expiry into the past (as if its TTL ran out)."""
    Reservation.update(expires_at=utcnow() - timedelta(seconds=1)).where(Reservation.id == reservation.id).execute()


def tier_counts(tier: TicketTier) -> tuple[int, int]:
    """(sold, held) as the database has them now."""
    fresh = TicketTier.get_by_id(tier.id)
    return fresh.sold, fresh.held


def make_order(tier: TicketTier, user_id: str = "fan-1", quantity: int = 2, **overrides: Any) -> Order:
    """A paid order (with its converted reservation and paid session), tickets not issued yet."""
    reservation = make_hold(tier, user_id, quantity, status="converted")
    session = CheckoutSession.create(reservation=reservation.id, user_id=user_id, idempotency_key=uuid.uuid4().hex,
                                     amount_cents=tier.price_cents * quantity, status="paid", simulate="success")
    fields = {"session": session.id, "user_id": user_id, "event": tier.event_id, "tier": tier.id,
              "quantity": quantity, "amount_cents": session.amount_cents, "status": "paid"}
    fields.update(overrides)
    return Order.create(**fields)
