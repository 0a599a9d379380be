"""One fan's purchase can be followed by its request id across the web tier and the workers:
reserve -> decide -> confirm -> issue."""

from __future__ import annotations

import pytest

from tests.factories import admitted
from tests.logcapture import json_log_lines
from tests.unit.web.test_operations_purchase import on_sale, pay, reserve


@pytest.fixture
def all_lines():
    """Every ticketdrop log line, formatted as the processes write them."""
    with json_log_lines("ticketdrop") as lines:
        yield lines


async def _buy(shop, admin_headers, runtime, stub_broker, stub_worker) -> str:
    event_id, tier_id = await on_sale(shop, admin_headers)
    [token] = await admitted(shop, runtime, event_id, "fan-42")
    status, held = await reserve(shop, event_id, tier_id, "fan-42", token, 2, request_id="fan-42-reserve")
    assert status == 201
    session = await pay(shop, "fan-42", held["id"], request_id="fan-42-pay")
    assert len(session["tickets"]) == 2
    for queue in ("reservations", "checkout"):  # actors log "actor finished" once they return
        stub_broker.join(queue)
    stub_worker.join()
    return event_id


def _actors(lines: list[dict]) -> set[tuple[str, str]]:
    return {(line["actor"], line["request_id"]) for line in lines if line["event"] == "actor finished"}


async def test_a_payment_s_request_id_follows_confirmation_into_the_settling_batch(shop, admin_headers, runtime, stub_broker,
                                                                                   stub_worker, all_lines):
    event_id = await _buy(shop, admin_headers, runtime, stub_broker, stub_worker)
    lines = all_lines()
    # settle_checkouts is sent by the confirm that found no settle message on its way.
    assert ("settle_checkouts", "fan-42-pay") in _actors(lines)
    settled = [line for line in lines if line["event"] == "checkouts settled"]
    assert settled and settled[0]["request_id"] == "fan-42-pay"
    assert (settled[0]["event_id"], settled[0]["paid"], settled[0]["tickets"]) == (event_id, 1, 2)


async def test_a_reservation_s_request_id_follows_it_into_the_drainer(shop, admin_headers, runtime, stub_broker, stub_worker,
                                                                      all_lines):
    await _buy(shop, admin_headers, runtime, stub_broker, stub_worker)
    assert ("drain_event", "fan-42-reserve") in _actors(all_lines())


async def test_web_log_lines_written_in_database_threads_carry_the_request_id(shop, admin_headers, runtime, all_lines):
    event_id, tier_id = await on_sale(shop, admin_headers)
    [token] = await admitted(shop, runtime, event_id, "fan-7")
    status, held = await reserve(shop, event_id, tier_id, "fan-7", token, 1)
    assert status == 201
    resp = await shop.post("/checkout/sessions", json={"reservation_id": held["id"]},
                           headers={"X-User-Id": "fan-7", "Idempotency-Key": "k-1", "X-Request-Id": "fan-7-session"})
    assert resp.status == 201
    opened = [line for line in all_lines() if line["event"] == "checkout session opened"]
    assert opened and opened[0].get("request_id") == "fan-7-session"
