"""What a reservation request costs the web tier in Redis calls (fakeredis only: the slot
check counts the script calls; tests/integration re-runs test_reservations.py, not this file)."""

from __future__ import annotations

from tests.factories import admitted
from tests.unit.models.test_reservations_support import make_event, make_tier
from tests.unit.web.test_reservations import reserve


async def test_a_reservation_request_is_one_script_call_that_judges_the_admission_and_queues_it(
        aiohttp_client, app, runtime, one_slot_per_script):
    client = await aiohttp_client(app)  # no worker: only the web tier's calls are counted
    event = make_event()
    tier = make_tier(event)
    warm, token = await admitted(client, runtime, event, "bob", "ann")
    assert (await reserve(client, event, tier, "bob", warm, 1)).status == 202  # scripts loaded (NOSCRIPT retried once)
    calls = one_slot_per_script.calls
    resp = await reserve(client, event, tier, "ann", token, 1)
    assert resp.status == 202, await resp.text()
    assert one_slot_per_script.calls - calls == 1
    record = runtime.redis.hgetall(runtime.keys.reservation((await resp.json())["id"]))
    assert (record["status"], record["position"]) == ("pending", "2")
    runtime.redis.delete(runtime.keys.mailbox(str(event.id)))
