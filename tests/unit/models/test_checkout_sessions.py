"""Opening checkout sessions: only for the owner's live hold, one per reservation."""

from __future__ import annotations

import threading

import pytest

from models import checkout
from models.errors import Conflict, Gone, NotFound
from models.tables import CheckoutSession
from tests.unit.models.checkout_factories import lapse, make_hold, make_tier


def _open(reservation, user="fan-1", key="key-1"):
    return checkout.open_session(user_id=user, reservation_id=reservation.id, idempotency_key=key)


def test_a_held_reservation_opens_a_session_priced_for_its_quantity(db):
    tier = make_tier(price_cents=12_500)
    hold = make_hold(tier, quantity=3)
    opened = _open(hold)
    assert opened.created is True
    doc = opened.document
    assert doc["status"] == "open" and doc["amount_cents"] == 37_500 and doc["quantity"] == 3
    assert doc["reservation_id"] == str(hold.id) and doc["checkoutId"] == doc["id"]
    assert doc["order_id"] is None and doc["tickets"] == []
    assert doc["expires_at"].endswith("Z")
    assert CheckoutSession.get_by_id(doc["id"]).idempotency_key == "key-1"


def test_a_second_key_for_the_same_reservation_gets_the_same_session(db):
    hold = make_hold(make_tier())
    first = _open(hold, key="key-1")
    second = _open(hold, key="key-2")
    assert second.created is False and second.document["id"] == first.document["id"]
    assert CheckoutSession.select().count() == 1


def test_concurrent_opens_of_one_reservation_make_one_session(db):
    hold, ids = make_hold(make_tier()), []
    barrier = threading.Barrier(10)

    def attempt(n):
        barrier.wait()
        with db.connection_context():
            ids.append(_open(hold, key=f"key-{n}").document["id"])

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 10 and len(set(ids)) == 1
    assert CheckoutSession.select().count() == 1


def test_another_users_reservation_is_not_found(db):
    hold = make_hold(make_tier(), user_id="fan-1")
    with pytest.raises(NotFound):
        _open(hold, user="fan-2")


def test_an_unknown_reservation_is_not_found(db):
    class Missing:
        id = "00000000-0000-0000-0000-000000000000"

    with pytest.raises(NotFound):
        _open(Missing)


def test_a_hold_past_its_expiry_is_gone(db):
    hold = make_hold(make_tier())
    lapse(hold)
    with pytest.raises(Gone) as info:
        _open(hold)
    assert info.value.status == 410 and info.value.extra["reason"] == "hold_expired"


def test_an_expired_reservation_is_gone(db):
    with pytest.raises(Gone):
        _open(make_hold(make_tier(), status="expired"))


@pytest.mark.parametrize("status", ["rejected", "released"])
def test_a_rejected_or_released_reservation_is_a_conflict(db, status):
    with pytest.raises(Conflict) as info:
        _open(make_hold(make_tier(), status=status))
    assert info.value.status == 409 and info.value.extra["reason"] == f"reservation_{status}"


def test_an_open_session_whose_hold_lapsed_is_gone_rather_than_returned(db):
    hold = make_hold(make_tier())
    _open(hold)
    lapse(hold)
    with pytest.raises(Gone):
        _open(hold, key="key-2")


async def test_a_reservation_still_pending_in_redis_is_a_conflict_to_retry(aredis, keys):
    await aredis.hset(keys.reservation("r1"), mapping={"id": "r1", "user_id": "fan-1", "status": "pending"})
    with pytest.raises(Conflict) as info:
        await checkout.raise_if_pending(aredis, keys, "r1", "fan-1")
    assert info.value.extra["reason"] == "reservation_pending" and info.value.retry_after == 1


async def test_a_pending_reservation_of_another_user_or_an_unknown_one_is_left_to_not_found(aredis, keys):
    await aredis.hset(keys.reservation("r1"), mapping={"id": "r1", "user_id": "fan-1", "status": "pending"})
    assert await checkout.raise_if_pending(aredis, keys, "r1", "fan-2") is None
    assert await checkout.raise_if_pending(aredis, keys, "r2", "fan-1") is None


async def test_a_reservation_redis_knows_as_expired_is_gone(aredis, keys):
    await aredis.hset(keys.reservation("r1"), mapping={"id": "r1", "user_id": "fan-1", "status": "expired"})
    with pytest.raises(Gone):
        await checkout.raise_if_pending(aredis, keys, "r1", "fan-1")
