"""Returned tickets reach the waitlist in order, once, on real PostgreSQL and Redis.

100 tickets sold out as holds, 300 fans on the waitlist; then 40 payments fail (the checkout
batch releases their holds) and 20 paid orders are canceled, while real Dramatiq workers drain
the event. Exactly 60 tickets are offered, to the first 60 fans of the waitlist, none twice,
and a sampler reading the tier all along never sees sold + held above capacity. A returned
ticket that fits no waiting fan goes back to general sale at once.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from models.checkout import refunds
from models.checkout.batch import settle_batch
from models.commands import commands
from models.db import database
from models.inventory import release_hold
from models.reservations.counters import rebuild_counters, rebuild_locked
from models.tables import CheckoutSession, Order, Reservation, TicketTier, WaitlistEntry
from tests.integration.test_reservations_concurrency import settle
from tests.unit.models.test_reservations_support import make_event, make_tier, request
from tests.unit.models.waitlist_factories import join_in_db

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CAPACITY, WAITING, FAILED, CANCELED = 100, 300, 40, 20
#: Longest the offers may take to appear, in seconds.
OFFERS_TIMEOUT_S = 60


@pytest.fixture
def workers(start_workers):
    return start_workers(4)


class Sampler(threading.Thread):
    """Reads the tier's sold + held every few milliseconds until stopped; keeps the largest."""

    def __init__(self, tier_id) -> None:
        super().__init__(daemon=True)
        self.tier_id, self.peak, self.samples, self.stop = tier_id, 0, 0, threading.Event()

    def run(self) -> None:
        with database.connection_context():
            while not self.stop.is_set():
                sold, held = TicketTier.select(TicketTier.sold, TicketTier.held).where(
                    TicketTier.id == self.tier_id).tuples().get()
                self.peak, self.samples = max(self.peak, sold + held), self.samples + 1
                time.sleep(0.002)


def test_60_returned_tickets_are_offered_once_each_to_the_first_60_of_300_waiting_fans(runtime, workers):
    event = make_event()
    tier = make_tier(event, capacity=CAPACITY, per_user_limit=2)
    e = str(event.id)
    holds = [request(runtime, tier, f"buyer-{i}") for i in range(CAPACITY)]
    commands().send_drain(e)
    settle(runtime, e, set(holds))
    assert TicketTier.get_by_id(tier.id).held == CAPACITY

    # Sessions in "processing", as confirm leaves them: the first 40 asked the simulator to fail.
    for i, rid in enumerate(holds):
        CheckoutSession.create(reservation=rid, user_id=f"buyer-{i}", idempotency_key=uuid.uuid4().hex,
                               amount_cents=tier.price_cents, status="processing",
                               simulate="fail" if i < FAILED else "success")
    # 300 fans on the waitlist, joining in a shuffled order; their waiting-room places are 1..300.
    places = list(range(1, WAITING + 1))
    random.Random(17).shuffle(places)
    for place in places:
        join_in_db(e, str(tier.id), f"fan-{place:03d}", 1, place)
    rebuild_counters(runtime.redis, runtime.keys, e)

    sampler = Sampler(tier.id)
    sampler.start()
    try:
        settled = settle_batch(runtime, secret=runtime.settings.secret_bytes, event_id=e, limit=CAPACITY)
        assert sorted(s.status for s in settled).count("failed") == FAILED
        paid = [o.id for o in Order.select(Order.id).where(Order.event == event.id, Order.status == "paid")]
        assert len(paid) == CAPACITY - FAILED
        with ThreadPoolExecutor(8) as pool:  # 20 cancellations at once, while the drainers offer
            docs = list(pool.map(lambda oid: _cancel(runtime, oid), random.Random(3).sample(paid, CANCELED)))
        assert {d["status"] for d in docs} == {"refunded"}
        offered = _wait_for_offers(FAILED + CANCELED)
        time.sleep(1.0)  # anything more than 60 would show up now
    finally:
        sampler.stop.set()
        sampler.join()

    offered = list(WaitlistEntry.select().where(WaitlistEntry.tier == tier.id, WaitlistEntry.status == "offered"))
    assert len(offered) == FAILED + CANCELED
    assert sorted(e.position for e in offered) == list(range(1, FAILED + CANCELED + 1))  # waitlist order
    offer_holds = list(Reservation.select().where(Reservation.id.in_([e.reservation_id for e in offered])))
    assert len(offer_holds) == len({r.user_id for r in offer_holds}) == FAILED + CANCELED
    assert {r.status for r in offer_holds} == {"held"}
    assert WaitlistEntry.select().where(WaitlistEntry.status == "waiting").count() == WAITING - FAILED - CANCELED
    fresh = TicketTier.get_by_id(tier.id)
    assert (fresh.sold, fresh.held) == (CAPACITY - FAILED - CANCELED, FAILED + CANCELED)
    assert sampler.samples > 20 and sampler.peak <= CAPACITY
    rebuild_locked(runtime.redis, runtime.keys, e)
    assert runtime.redis.hget(runtime.keys.stock(e), str(tier.id)) == "0"


def _cancel(runtime, order_id):
    with database.connection_context():
        return refunds.cancel_order(runtime, order_id)


def _wait_for_offers(count: int) -> int:
    deadline = time.monotonic() + OFFERS_TIMEOUT_S
    while True:
        made = WaitlistEntry.select().where(WaitlistEntry.status == "offered").count()
        if made >= count:
            return made
        if time.monotonic() > deadline:
            raise AssertionError(f"only {made} of {count} returned tickets offered")
        time.sleep(0.1)


def test_a_returned_ticket_that_fits_no_waiting_fan_is_sold_to_the_next_request_at_once(runtime, workers):
    event = make_event()
    tier = make_tier(event, capacity=3, per_user_limit=2)
    e = str(event.id)
    holds = [request(runtime, tier, f"holder-{i}") for i in range(3)]
    commands().send_drain(e)
    settle(runtime, e, set(holds))
    pair, _ = join_in_db(e, str(tier.id), "pair", 2, 1)
    rebuild_counters(runtime.redis, runtime.keys, e)

    release_hold(runtime.redis, runtime.keys, holds[0], to_status="expired", reason="hold_expired")  # 1 back
    single = request(runtime, tier, "single")  # behind the offers marker the return queued
    commands().send_drain(e)
    settle(runtime, e, {single})

    assert Reservation.get_by_id(single).status == "held"
    assert WaitlistEntry.get_by_id(pair.id).status == "waiting"
    fresh = TicketTier.get_by_id(tier.id)
    assert (fresh.sold, fresh.held) == (0, 3)

    release_hold(runtime.redis, runtime.keys, holds[1], to_status="released", reason="released_by_user")
    release_hold(runtime.redis, runtime.keys, holds[2], to_status="released", reason="released_by_user")
    late = request(runtime, tier, "late")  # two free now: the pair's, not for sale
    commands().send_drain(e)
    settle(runtime, e, {late})
    assert (Reservation.get_by_id(late).status, Reservation.get_by_id(late).reason) == ("rejected", "sold_out")
    assert _wait_for_offers(1) == 1 and WaitlistEntry.get_by_id(pair.id).status == "offered"
