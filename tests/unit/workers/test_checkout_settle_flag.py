"""The settle flag is short and kept alive by its settler (the settle_checkouts actor): a settler killed mid-batch holds up
its event's payments for at most two seconds, a live settler keeps one message per event
however long a batch takes."""

from __future__ import annotations

import time

import pytest

from models import checkout
from models.checkout import batch as settle_module
from models.commands import commands
from models.tables import CheckoutSession
from tests.unit.models.checkout_factories import make_hold, make_tier
from workers.checkout import settle_checkouts


class Killed(BaseException):
    """SIGKILL, as far as the settler can tell: it stops mid-batch and cleans nothing up."""


def confirmed(runtime, tier, user: str) -> str:
    hold = make_hold(tier, user, 1, redis=runtime.redis, keys=runtime.keys)
    sid = checkout.open_session(user_id=user, reservation_id=hold.id, idempotency_key=f"k-{user}").document["id"]
    assert checkout.begin_confirm(user_id=user, session_id=sid, simulate="success").enqueue
    return sid


def test_a_settler_killed_mid_batch_stops_a_later_confirm_for_at_most_two_seconds(runtime, stub_broker, stub_worker,
                                                                                  monkeypatch):
    tier = make_tier(capacity=10)
    event_id = str(tier.event_id)
    first = confirmed(runtime, tier, "ann")
    assert checkout.claim_settle(runtime.redis, runtime.keys, event_id)  # ann's confirm sends the message
    claimed_during_the_batch = []

    def killed_mid_batch(rt, **_):
        time.sleep(settle_module.FLAG_TTL_MS / 1000 * 1.5)  # a batch slowed down by a loaded database
        claimed_during_the_batch.append(bool(checkout.claim_settle(rt.redis, rt.keys, event_id)))
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(settle_module, "settle_batch", killed_mid_batch)
        with pytest.raises(Killed):
            settle_checkouts(event_id)
    assert claimed_during_the_batch == [False]  # the live settler kept the flag: no second message
    left_ms = runtime.redis.pttl(runtime.keys.settle_flag(event_id))
    assert 0 < left_ms <= 2_000  # the flag was left behind, and lapses within two seconds

    second = confirmed(runtime, tier, "bob")
    time.sleep(left_ms / 1000)
    assert checkout.claim_settle(runtime.redis, runtime.keys, event_id)  # bob's confirm sends a new message
    commands().send_settle(event_id)
    stub_broker.join("checkout")
    stub_worker.join()
    assert {s.status for s in CheckoutSession.select().where(CheckoutSession.id.in_([first, second]))} == {"paid"}


def test_a_settler_that_finishes_lets_go_of_the_flag_and_stops_renewing_it(runtime, stub_broker):
    tier = make_tier(capacity=10)
    event_id = str(tier.event_id)
    confirmed(runtime, tier, "ann")
    assert checkout.claim_settle(runtime.redis, runtime.keys, event_id)
    settle_checkouts(event_id)
    assert CheckoutSession.get().status == "paid"
    assert checkout.claim_settle(runtime.redis, runtime.keys, event_id)  # free at once for the next confirm
    time.sleep(settle_module.FLAG_TTL_MS / 1000 * 1.2)
    assert runtime.redis.get(runtime.keys.settle_flag(event_id)) is None  # nobody renewed the new claim
