"""POST /checkout/sessions and GET /checkout/sessions/{id}: the Idempotency-Key contract and
every error status."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from models.tables import CheckoutSession, IdempotencyRecord, utcnow
from tests.unit.models.checkout_factories import lapse, make_hold, make_tier
from web.dbexec import run_db
from web.schemas.checkout import CheckoutSession as SessionSchema


def headers(user="fan-1", key: str | None = "key-1", **extra):
    h = {"X-User-Id": user, **extra}
    if key is not None:
        h["Idempotency-Key"] = key
    return h


async def hold(app, **kw):
    return await run_db(app, lambda: make_hold(make_tier(), **kw))


async def post(client, reservation_id, **kw):
    return await client.post("/checkout/sessions", json={"reservation_id": str(reservation_id)}, headers=headers(**kw))


async def test_a_held_reservation_gets_a_session_201_with_location(client, app):
    r = await hold(app)
    resp = await post(client, r.id)
    body = await resp.json()
    assert resp.status == 201, body
    SessionSchema.model_validate(body)
    assert resp.headers["Location"] == f"/checkout/sessions/{body['id']}"
    assert body["status"] == "open" and body["reservation_id"] == str(r.id)
    assert "Idempotent-Replayed" not in resp.headers


async def test_the_same_key_and_payload_replays_the_original_response(client, app):
    r = await hold(app)
    first = await post(client, r.id)
    again = await post(client, r.id)
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert await again.read() == await first.read()


async def test_the_same_key_with_a_different_payload_is_422(client, app):
    r1, r2 = await hold(app), await hold(app)
    assert (await post(client, r1.id)).status == 201
    resp = await post(client, r2.id)
    body = await resp.json()
    assert resp.status == 422 and body["code"] == "idempotency_key_reused"
    assert body["errors"][0]["field"] == "header.Idempotency-Key"


async def test_the_same_key_while_the_first_request_is_in_flight_is_409_with_retry_after(client, app):
    r = await hold(app)
    body = {"reservation_id": str(r.id)}
    from models.checkout.idempotency import fingerprint

    await run_db(app, lambda: IdempotencyRecord.create(
        user_id="fan-1", scope="POST /checkout/sessions", key="key-1", request_hash=fingerprint("POST", "/checkout/sessions", body),
        locked_until=utcnow() + timedelta(seconds=30), expires_at=utcnow() + timedelta(hours=1)))
    resp = await post(client, r.id)
    problem = await resp.json()
    assert resp.status == 409 and problem["code"] == "request_in_flight"
    assert int(resp.headers["Retry-After"]) >= 1


async def test_two_hundred_simultaneous_duplicates_make_one_session(client, app):
    r = await hold(app)
    responses = await asyncio.gather(*(post(client, r.id) for _ in range(200)))
    statuses = sorted({resp.status for resp in responses})
    assert set(statuses) <= {201, 409}, statuses
    ids = {(await resp.json())["id"] for resp in responses if resp.status == 201}
    assert len(ids) == 1
    assert await run_db(app, CheckoutSession.select().count) == 1


async def test_keys_are_scoped_to_the_user(client, app):
    mine, theirs = await hold(app, user_id="fan-1"), await hold(app, user_id="fan-2")
    assert (await post(client, mine.id, user="fan-1")).status == 201
    assert (await post(client, theirs.id, user="fan-2")).status == 201


async def test_a_second_key_for_the_same_reservation_gets_the_same_session_with_200(client, app):
    r = await hold(app)
    first = await (await post(client, r.id, key="key-1")).json()
    resp = await post(client, r.id, key="key-2")
    assert resp.status == 200 and (await resp.json())["id"] == first["id"]


async def test_a_missing_idempotency_key_is_400_naming_the_header(client, app):
    r = await hold(app)
    resp = await post(client, r.id, key=None)
    body = await resp.json()
    assert resp.status == 400 and body["errors"][0]["field"] == "header.Idempotency-Key"


async def test_a_missing_user_is_400_naming_the_header(client):
    resp = await client.post("/checkout/sessions", json={"reservation_id": str(uuid.uuid4())}, headers={"Idempotency-Key": "k"})
    assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "header.X-User-Id"


async def test_a_malformed_body_is_422_naming_the_field(client):
    resp = await client.post("/checkout/sessions", json={"reservation_id": "nope"}, headers=headers())
    body = await resp.json()
    assert resp.status == 422 and body["errors"][0]["field"] == "reservation_id"


async def test_an_unknown_or_someone_elses_reservation_is_404(client, app):
    assert (await post(client, uuid.uuid4())).status == 404
    r = await hold(app, user_id="fan-2")
    assert (await post(client, r.id, user="fan-1")).status == 404


async def test_a_pending_reservation_is_409_with_retry_after_and_the_key_stays_usable(client, app, aredis, keys):
    rid = str(uuid.uuid4())
    await aredis.hset(keys.reservation(rid), mapping={"id": rid, "user_id": "fan-1", "status": "pending"})
    resp = await post(client, rid)
    body = await resp.json()
    assert resp.status == 409 and body["reason"] == "reservation_pending" and resp.headers["Retry-After"] == "1"
    # Errors are not stored: the same key runs again once the reservation is decided.
    assert await run_db(app, IdempotencyRecord.select().count) == 0


async def test_a_rejected_or_released_reservation_is_409(client, app):
    for status in ("rejected", "released"):
        r = await hold(app, status=status)
        resp = await post(client, r.id, key=f"key-{status}")
        assert resp.status == 409 and (await resp.json())["reason"] == f"reservation_{status}"


async def test_an_expired_hold_is_410(client, app):
    r = await hold(app)
    await run_db(app, lapse, r)
    resp = await post(client, r.id)
    assert resp.status == 410 and (await resp.json())["reason"] == "hold_expired"
    assert (await post(client, (await hold(app, status="expired")).id, key="key-2")).status == 410


async def test_the_owner_reads_the_session_and_others_get_404(client, app):
    r = await hold(app)
    created = await (await post(client, r.id)).json()
    resp = await client.get(f"/checkout/sessions/{created['id']}", headers={"X-User-Id": "fan-1"})
    assert resp.status == 200 and (await resp.json()) == created
    assert (await client.get(f"/checkout/sessions/{created['id']}", headers={"X-User-Id": "fan-2"})).status == 404
    assert (await client.get(f"/checkout/sessions/{uuid.uuid4()}", headers={"X-User-Id": "fan-1"})).status == 404
    assert (await client.get(f"/checkout/sessions/{created['id']}")).status == 400
