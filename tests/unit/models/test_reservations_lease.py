"""The event lease is short and kept alive by its holder: a killed drainer blocks its event's
decisions for at most LEASE_TTL_MS, a live drainer keeps its event however long a batch takes."""

from __future__ import annotations

import time

from models.reservations import drain as drain_module
from models.reservations.lease import LEASE_TTL_MS, EventLease
from models.tables import Reservation
from tests.unit.models.test_reservations_support import Resends, drain_now, make_event, make_tier, request


def test_a_drainer_killed_while_holding_the_lease_blocks_its_event_for_at_most_the_lease_ttl(runtime, monkeypatch):
    monkeypatch.setattr(drain_module, "ACQUIRE_WAIT_S", 0)
    event = make_event()
    tier = make_tier(event)
    rid = request(runtime, tier, "ann")
    killed = EventLease(runtime.redis, runtime.keys, str(event.id))
    assert killed.acquire()
    with killed.kept():  # renewed while its worker lives...
        time.sleep(LEASE_TTL_MS / 1000 * 1.5)
        assert killed.remaining_ms() > 0
    # ...then SIGKILL: no more renewals, and nothing released the lease.
    resends = Resends()
    assert drain_now(runtime, event.id, resend=resends).ended == "busy"
    assert len(resends) == 1 and resends[0] <= LEASE_TTL_MS + 50
    time.sleep(resends[0] / 1000)
    assert drain_now(runtime, event.id).ended == "done"  # the message sent back takes the event over
    assert Reservation.get_by_id(rid).status == "held"


def test_a_live_drainer_keeps_its_event_through_a_batch_longer_than_the_lease_ttl(runtime, monkeypatch):
    event = make_event()
    tier = make_tier(event)
    request(runtime, tier, "ann")
    seen_by_others = []
    real_step = drain_module.step

    def slow_step(rt, event_id, ids, lease_token, report=None):
        time.sleep(LEASE_TTL_MS / 1000 * 1.5)  # a batch slowed down by a loaded database
        seen_by_others.append(EventLease(rt.redis, rt.keys, event_id).acquire())
        return real_step(rt, event_id, ids, lease_token, report)

    monkeypatch.setattr(drain_module, "step", slow_step)
    report = drain_now(runtime, event.id)
    assert seen_by_others == [False]
    assert report.ended == "done" and report.outcomes == {"held": 1}


def test_the_event_lease_is_short_enough_that_a_killed_holder_frees_it_within_two_seconds(runtime):
    event = make_event()
    lease = EventLease(runtime.redis, runtime.keys, str(event.id))
    assert lease.acquire()
    assert 0 < lease.remaining_ms() <= 2_000
