"""The per-process event cache stays bounded whatever ids are asked for, and a flood of unknown
ids from one address is refused before it costs more database reads (issue 12, finding 3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from models.tables import Event
from tests.unit.web.test_waiting_room import make_event
from web import snapshots
from web.appkeys import SNAPSHOTS
from web.eventcache import SnapshotCache, UnknownIdLimiter


async def test_a_flood_of_unknown_event_ids_does_not_grow_the_snapshot_cache(aiohttp_client, app, db):
    cache = app[SNAPSHOTS] = SnapshotCache(unknown_size=50)
    client = await aiohttp_client(app)
    event = make_event()
    assert (await client.get(f"/events/{event.id}/waiting-room/fairness")).status == 200
    for _ in range(300):
        resp = await client.get(f"/events/{uuid.uuid4()}/waiting-room/status", params={"token": "x"})
        assert resp.status == 404
    assert len(cache.unknown) <= 50
    assert len(cache) <= 51
    assert str(event.id) in cache.known  # the real event was not pushed out by the flood


async def test_the_known_events_cache_keeps_at_most_its_size_and_drops_the_oldest(aiohttp_client, app, db):
    events = [make_event() for _ in range(5)]
    cache = app[SNAPSHOTS] = SnapshotCache(size=3)
    client = await aiohttp_client(app)
    for event in events:
        await snapshots.event_snapshot(client.app, event.id)
    assert list(cache.known) == [str(e.id) for e in events[2:]]


async def test_an_unknown_id_is_remembered_only_briefly(aiohttp_client, app, db):
    app[SNAPSHOTS] = SnapshotCache(unknown_ttl_s=0.0)  # already past its deadline when read again
    client = await aiohttp_client(app)
    event_id = uuid.uuid4()
    for _ in range(2):
        resp = await client.get(f"/events/{event_id}/waiting-room/fairness")
        assert resp.status == 404
    Event.create(id=event_id, name="Late", venue="Arena", starts_at=datetime.now(UTC) + timedelta(days=3),
                 on_sale_at=datetime.now(UTC) + timedelta(hours=1), status="scheduled")
    assert (await client.get(f"/events/{event_id}/waiting-room/fairness")).status == 200


async def test_an_address_that_floods_unknown_ids_gets_429_but_still_reaches_cached_events(
        aiohttp_client, settings, aredis, db, stub_broker):
    from web.app import create_app

    app = create_app(settings.with_(rate_unknown_event_per_min=5), redis=aredis, broker=stub_broker, bind_db=False)
    client = await aiohttp_client(app)
    event = make_event()
    assert (await client.get(f"/events/{event.id}/waiting-room/fairness")).status == 200  # cached by fans' polls
    statuses = [(await client.get(f"/events/{uuid.uuid4()}/waiting-room/status", params={"token": "x"})).status
                for _ in range(8)]
    assert statuses == [404] * 5 + [429] * 3
    refused = await client.get(f"/events/{uuid.uuid4()}/waiting-room/status", params={"token": "x"})
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert (await refused.json())["code"] == "rate_limited"
    assert (await client.get(f"/events/{event.id}/waiting-room/fairness")).status == 200


def test_the_unknown_id_limiter_remembers_a_bounded_number_of_addresses():
    limiter = UnknownIdLimiter(per_min=1, clients=100)
    for i in range(1000):
        limiter.count(f"10.0.{i // 256}.{i % 256}", 0.0)
    assert len(limiter) == 100
