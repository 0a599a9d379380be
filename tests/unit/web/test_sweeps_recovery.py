"""After Redis loses everything, the sweep rebuilds the counters from the database and the
sale runs to zero without selling a ticket twice."""

from __future__ import annotations

import asyncio
import time

from models import sweeps
from models.metrics import OVERSELL_ATTEMPTS
from models.tables import Reservation, TicketTier
from models.waiting_room import admit_waves
from tests.factories import admitted
from tests.unit.web.test_operations_purchase import on_sale, reserve
from web.dbexec import run_db


def _held_in_db(tier_id: str) -> tuple[int, int, int]:
    tier = TicketTier.get_by_id(tier_id)
    live = sum(r.quantity for r in Reservation.select().where(Reservation.tier == tier_id, Reservation.status == "held"))
    return tier.sold, tier.held, live


async def test_a_redis_flush_then_the_reconcile_then_a_sell_out_never_oversells(shop, admin_headers, runtime, redis, keys,
                                                                                 stub_broker, stub_worker):
    event_id, tier_id = await on_sale(shop, admin_headers, capacity=6)
    first = await admitted(shop, runtime, event_id, "fan-a", "fan-b")
    for user, token in zip(("fan-a", "fan-b"), first, strict=True):
        assert (await reserve(shop, event_id, tier_id, user, token, 2))[0] == 201

    # A Redis restart without persistence: every key of this deployment is gone (only ours:
    # the integration run shares a real server).
    for key in redis.scan_iter(match=f"{keys.prefix}*"):
        redis.delete(key)
    report = sweeps.run_all_sweeps(runtime)
    assert report["reconcile_counters"]["status"] == "ok"
    stock = redis.hgetall(keys.stock(event_id))
    assert (stock[tier_id], stock[f"held:{tier_id}"]) == ("2", "4")
    assert redis.hgetall(keys.user_counts(event_id)) == {"fan-a": "2", "fan-b": "2"}
    admit_waves(runtime)  # the wave tick restores the waiting room from the database

    fans = [f"fan-{c}" for c in "cdefg"]
    # The restored room keeps its wave grid: the next wave is due one interval after the last.
    next_wave_ms = int(time.time() * 1000) + 10_000
    tokens = dict(zip(fans, await admitted(shop, runtime, event_id, *fans, now_ms=next_wave_ms), strict=True))
    # Two tickets left: the wave admits two fans, and the reservation gate sees the rebuilt stock.
    before = OVERSELL_ATTEMPTS._value.get()
    assert (await reserve(shop, event_id, tier_id, "fan-c", tokens["fan-c"], 1))[0] == 201
    status, too_many = await reserve(shop, event_id, tier_id, "fan-d", tokens["fan-d"], 2)
    assert status == 409 and too_many["reason"] == "sold_out"
    # Read once the workers are idle: a drainer that held the lease the flush took away can still
    # be deciding fan-d's request next to its successor (each request is counted once, by the one
    # that writes its row, but that one need not be the one whose commit answered fan-d).
    await asyncio.get_running_loop().run_in_executor(None, lambda: (stub_broker.join("reservations"), stub_worker.join()))
    assert OVERSELL_ATTEMPTS._value.get() == before + 1
    assert (await reserve(shop, event_id, tier_id, "fan-d", tokens["fan-d"], 1))[0] == 201
    for fan in ("fan-e", "fan-f", "fan-g"):
        assert (await reserve(shop, event_id, tier_id, fan, tokens[fan], 1))[0] in (403, 409)
    sold, held, live = await run_db(shop.server.app, _held_in_db, tier_id)
    assert (sold, held, live) == (0, 6, 6)
    assert redis.hget(keys.stock(event_id), tier_id) == "0"
