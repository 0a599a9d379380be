"""The polled waiting-room documents are cacheable at the edge for exactly as long as they are
true: public with max-age up to the next wave (never more than one wave interval), an ETag
that changes at once with an admission or a pause, 304 while it holds; private answers are
never public (issue 14)."""

from __future__ import annotations

import re

from models.tables import FairnessRecord
from models.waiting_room import admit_waves
from tests.unit.web.test_waiting_room import fresh, join, make_event


def max_age(resp) -> int:
    match = re.fullmatch(r"public, max-age=(\d+)", resp.headers["Cache-Control"])
    if match is None:
        assert resp.headers["Cache-Control"] == "public, no-cache"
        return 0
    return int(match.group(1))


async def poll(client, event, token, etag: str | None = None):
    headers = {"If-None-Match": etag} if etag else {}
    return await client.get(f"/events/{event.id}/waiting-room/status", params={"token": token}, headers=headers)


async def progress(client, event, etag: str | None = None):
    headers = {"If-None-Match": etag} if etag else {}
    return await client.get(f"/events/{event.id}/waiting-room/progress", headers=headers)


async def test_a_status_answer_is_public_fresh_for_at_most_one_wave_interval_with_an_etag(client, db):
    event = make_event(on_sale_in_s=-1, wave_interval_s=3.0)
    _, joined = await join(client, event, "fan-1")
    resp = await poll(client, event, joined["token"])
    assert resp.status == 200
    assert 0 <= max_age(resp) <= 3
    assert resp.headers["ETag"].startswith('W/"')
    assert "Origin" in resp.headers["Vary"]


async def test_polling_again_with_the_etag_is_304_without_a_body_while_nothing_changed(client, db):
    event = make_event(on_sale_in_s=-1)
    _, joined = await join(client, event, "fan-1")
    first = await poll(client, event, joined["token"])
    again = await poll(client, event, joined["token"], etag=first.headers["ETag"])
    assert again.status == 304
    assert await again.read() == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"].startswith("public")
    other = await poll(client, event, joined["token"], etag='W/"not-it", W/"nor-this"')
    assert other.status == 200


async def test_an_admission_changes_the_etag_at_once(client, db, runtime):
    event = make_event(on_sale_in_s=-1, wave_size=1)
    _, joined = await join(client, event, "fan-1")
    queued = await poll(client, event, joined["token"])
    assert (await queued.json())["admission"] == "queued"
    admit_waves(runtime)
    fresh(client, event)
    admitted = await poll(client, event, joined["token"], etag=queued.headers["ETag"])
    assert admitted.status == 200
    assert (await admitted.json())["admission"] == "admitted"
    assert admitted.headers["ETag"] != queued.headers["ETag"]


async def test_a_pause_changes_the_etag_at_once_and_the_answer_stays_fresh_at_most_one_tick(client, db, runtime,
                                                                                             admin_headers):
    event = make_event(on_sale_in_s=-1, wave_interval_s=1.0)
    _, joined = await join(client, event, "fan-1")
    admit_waves(runtime)
    fresh(client, event)
    selling = await poll(client, event, joined["token"])
    room = await progress(client, event)
    paused = await client.post(f"/admin/events/{event.id}/pause", headers=admin_headers)
    assert paused.status == 200
    # The pause came through this process: no waiting for the snapshot's TTL.
    now = await poll(client, event, joined["token"], etag=selling.headers["ETag"])
    assert now.status == 200
    assert (await now.json())["state"] == "paused"
    assert now.headers["ETag"] != selling.headers["ETag"]
    assert max_age(now) <= 1 and max_age(selling) <= 1
    room_now = await progress(client, event, etag=room.headers["ETag"])
    assert room_now.status == 200 and (await room_now.json())["state"] == "paused"


async def test_the_progress_document_is_shared_public_and_moves_with_each_wave(client, db, runtime):
    event = make_event(on_sale_in_s=-1, wave_size=1, wave_interval_s=2.0)
    await join(client, event, "fan-1")
    await join(client, event, "fan-2")
    fresh(client, event)
    before = await progress(client, event)
    body = await before.json()
    assert (body["state"], body["total"], body["admittedThrough"]) == ("sale_open", 2, 0)
    assert 0 <= max_age(before) <= 2 and before.headers["ETag"].startswith('"')
    assert (await progress(client, event, etag=before.headers["ETag"])).status == 304
    admit_waves(runtime)
    fresh(client, event)
    after = await progress(client, event, etag=before.headers["ETag"])
    assert after.status == 200
    assert (await after.json())["admittedThrough"] == 1


async def test_the_revealed_draw_is_cached_for_an_hour_and_kept_by_the_process_and_before_it_is_revalidated(client, db, runtime):
    # Every pre-queue fan reads it once after on-sale to compute its place (room-progress.js).
    event = make_event(on_sale_in_s=-1)
    await join(client, event, "fan-1")
    before = await client.get(f"/events/{event.id}/waiting-room/fairness")
    assert (await before.json())["salt"] is None and before.headers["Cache-Control"] == "public, no-cache"
    admit_waves(runtime)  # the draw reveals the salt
    revealed = await client.get(f"/events/{event.id}/waiting-room/fairness", headers={"If-None-Match": before.headers["ETag"]})
    assert revealed.status == 200 and (await revealed.json())["salt"]
    assert revealed.headers["Cache-Control"] == "public, max-age=3600" and revealed.headers["ETag"] != before.headers["ETag"]
    FairnessRecord.delete().where(FairnessRecord.event == event.id).execute()  # the process answers without the database
    again = await client.get(f"/events/{event.id}/waiting-room/fairness", headers={"If-None-Match": revealed.headers["ETag"]})
    assert again.status == 304 and again.headers["Cache-Control"] == "public, max-age=3600"


async def test_errors_on_the_polled_routes_carry_no_public_caching(client, db):
    event = make_event(on_sale_in_s=-1)
    resp = await poll(client, event, "not-a-token")
    assert resp.status == 404
    assert "public" not in resp.headers.get("Cache-Control", "")


async def test_answers_that_depend_on_the_user_are_never_marked_public(client, db):
    event = make_event(on_sale_in_s=-1)
    joined, _ = await join(client, event, "fan-1")
    assert "public" not in joined.headers.get("Cache-Control", "")
    for path in ("/me/tickets", "/me/orders"):
        resp = await client.get(path, headers={"X-User-Id": "fan-1"})
        assert resp.status < 500
        assert "public" not in resp.headers.get("Cache-Control", ""), path
