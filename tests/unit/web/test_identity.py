"""Who the fan is, per IDENTITY_MODE: verified bearer tokens (jwt), a trusted proxy's X-User-Id,
and the demo's self-asserted X-User-Id."""

from __future__ import annotations

import json

import pytest

from models import identity
from models.errors import ConfigError
from models.inventory import rebuild_counters
from models.tickets import issue_for_order
from tests.identity_keys import AUDIENCE, ISSUER, Provider, bearer, jwt_settings, serve_jwks, tampered, unsigned
from tests.unit.models.test_reservations_support import make_event, make_paid_order, make_tier
from web.appkeys import TOKEN_VERIFIER


@pytest.fixture(scope="module")
def provider() -> Provider:
    return Provider()


@pytest.fixture
def jwks_file(tmp_path, provider):
    return provider.write_jwks(tmp_path / "jwks.json")


@pytest.fixture
async def jwt_app(settings, jwks_file, aredis, db, stub_broker, runtime):
    from web.app import create_app

    return create_app(jwt_settings(settings, jwks_file=jwks_file), redis=aredis, broker=stub_broker, bind_db=False)


@pytest.fixture
async def api(aiohttp_client, jwt_app):
    return await aiohttp_client(jwt_app)


async def refused(resp, description: str) -> dict:
    assert resp.status == 401, await resp.text()
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="ticketdrop"') and 'error="invalid_token"' in challenge
    assert description in challenge
    body = await resp.json()
    assert body["code"] == "invalid_token" and body["errors"][0]["field"] == "header.Authorization"
    return body


async def test_a_valid_rs256_or_es256_token_names_the_fan_by_its_subject(api, provider, settings):
    order = make_paid_order(make_tier(make_event()), "fan-7", 2)
    issue_for_order(settings.secret_bytes, order.id)
    for alg in ("RS256", "ES256"):
        resp = await api.get("/me/tickets", headers=bearer(provider.token("fan-7", alg=alg)))
        assert resp.status == 200 and [t["order_id"] for t in await resp.json()] == [str(order.id)] * 2
    other = await api.get("/me/tickets", headers=bearer(provider.token("fan-8")))
    assert other.status == 200 and await other.json() == []


async def test_an_expired_token_is_401_with_www_authenticate(api, provider):
    await refused(await api.get("/me/tickets", headers=bearer(provider.token(ttl_s=-120))), "token expired")


async def test_a_token_for_another_audience_is_401(api, provider):
    await refused(await api.get("/me/tickets", headers=bearer(provider.token(aud="another-app"))), "wrong audience")


async def test_a_token_from_another_issuer_is_401(api, provider):
    await refused(await api.get("/me/tickets", headers=bearer(provider.token(iss="https://evil.example"))), "wrong issuer")


async def test_an_unsigned_alg_none_token_is_401(api):
    await refused(await api.get("/me/tickets", headers=bearer(unsigned())), "algorithm not allowed")


async def test_a_token_signed_by_a_key_not_in_the_jwks_is_401(api, provider):
    unknown_kid = provider.token(key=provider.stray_key, kid="rsa-9")
    await refused(await api.get("/me/tickets", headers=bearer(unknown_kid)), "unknown signing key")
    posing_as_known = provider.token(key=provider.stray_key, kid="rsa-1")
    await refused(await api.get("/me/tickets", headers=bearer(posing_as_known)), "bad signature")


async def test_a_tampered_payload_is_401(api, provider):
    forged = tampered(provider.token("fan-1"), sub="fan-2")
    await refused(await api.get("/me/tickets", headers=bearer(forged)), "bad signature")


async def test_an_hs256_token_is_refused_when_the_keys_are_a_jwks(api, provider):
    await refused(await api.get("/me/tickets", headers=bearer(provider.token(alg="HS256"))), "algorithm not allowed")


async def test_a_token_without_a_subject_or_expiry_is_401(api, provider):
    await refused(await api.get("/me/tickets", headers=bearer(provider.token(sub=None))), "claim sub missing")
    no_exp = identity.jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "fan-1"}, provider.rsa_key, algorithm="RS256",
                                 headers={"kid": "rsa-1"})
    await refused(await api.get("/me/tickets", headers=bearer(no_exp)), "claim exp missing")


async def test_no_credentials_is_401_with_a_bare_challenge(api):
    resp = await api.get("/me/tickets")
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == 'Bearer realm="ticketdrop"'
    garbled = await api.get("/me/tickets", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    await refused(garbled, "not")


async def test_x_user_id_is_refused_in_jwt_mode_with_400_naming_the_header(api, provider):
    for headers in ({"X-User-Id": "fan-1"}, {"X-User-Id": "fan-1", **bearer(provider.token("fan-1"))}):
        resp = await api.get("/me/tickets", headers=headers)
        assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "header.X-User-Id"


async def test_admin_routes_keep_the_admin_token_in_jwt_mode(api, settings):
    resp = await api.get("/admin/events", headers={"Authorization": f"Bearer {settings.admin_token}"})
    assert resp.status == 200


async def test_the_subject_is_the_user_for_places_in_the_queue_and_anonymous_joins_are_refused(api, provider):
    event = make_event()
    path = f"/events/{event.id}/waiting-room/join"
    first = await api.post(path, headers=bearer(provider.token("fan-1")))
    again = await api.post(path, headers=bearer(provider.token("fan-1", alg="ES256")))
    other = await api.post(path, headers=bearer(provider.token("fan-2")))
    assert (first.status, again.status, other.status) == (201, 200, 201)
    assert (await first.json())["token"] == (await again.json())["token"] != (await other.json())["token"]
    anonymous = await api.post(path)
    assert anonymous.status == 401


async def test_the_per_event_cap_counts_the_subjects_purchases(api, provider, runtime):
    from models.waiting_room import admit_waves

    event = make_event()
    tier = make_tier(event, capacity=20, per_user_limit=4)
    fan = bearer(provider.token("ann"))
    token = (await (await api.post(f"/events/{event.id}/waiting-room/join", headers=fan)).json())["token"]
    admit_waves(runtime)
    make_paid_order(tier, "ann", 4)
    rebuild_counters(runtime.redis, runtime.keys, str(event.id))
    resp = await api.post(f"/events/{event.id}/reservations", headers=fan,
                          json={"tier_id": str(tier.id), "quantity": 3, "token": token})
    body = await resp.json()
    assert resp.status == 409 and body["code"] == "limit_exceeded" and body["counted"] == 4


async def test_the_per_user_rate_limit_counts_the_subject_whatever_token_it_comes_in(aiohttp_client, settings, aredis,
                                                                                       db, stub_broker, runtime, provider,
                                                                                       jwks_file):
    from web.app import create_app

    limited = jwt_settings(settings, jwks_file=jwks_file, rate_join_per_min=2, rate_per_ip_per_min=100)
    client = await aiohttp_client(create_app(limited, redis=aredis, broker=stub_broker, bind_db=False))
    path = f"/events/{make_event().id}/waiting-room/join"
    statuses = [(await client.post(path, headers=bearer(provider.token("fan-1", alg=alg, jti=alg)))).status
                for alg in ("RS256", "ES256", "RS256")]
    assert 429 not in statuses[:2] and statuses[2] == 429
    assert (await client.post(path, headers=bearer(provider.token("fan-2")))).status == 201


async def test_a_rotated_provider_key_is_fetched_when_a_token_names_it(api, jwt_app, provider, jwks_file, monkeypatch):
    monkeypatch.setattr(identity, "JWKS_RETRY_S", 0.0)
    new_kid = provider.token("fan-1", key=provider.stray_key, kid="rsa-2")
    await refused(await api.get("/me/tickets", headers=bearer(new_kid)), "unknown signing key")
    document = provider.publish(provider.jwks(), provider.stray_key, "rsa-2", "RS256")
    jwks_file.write_text(json.dumps(document))
    assert (await api.get("/me/tickets", headers=bearer(new_kid))).status == 200
    assert jwt_app[TOKEN_VERIFIER].jwks.key("rsa-2") is not None
    # A rate-limited command resolves the fan before its handler runs: it sees the new key too.
    newer = provider.token("fan-1", key=provider.ec_key, kid="ec-2", alg="ES256")
    jwks_file.write_text(json.dumps(provider.publish(document, provider.ec_key, "ec-2", "ES256")))
    assert (await api.post(f"/events/{make_event().id}/waiting-room/join", headers=bearer(newer))).status == 201


async def test_a_jwks_url_is_read_at_start_up_kept_and_read_again_for_a_rotated_key(aiohttp_client, settings, aredis, db,
                                                                                   stub_broker, runtime, provider,
                                                                                   monkeypatch):
    from web.app import create_app

    monkeypatch.setattr(identity, "JWKS_RETRY_S", 0.0)
    with serve_jwks(provider.jwks()) as jwks:
        app = create_app(jwt_settings(settings, jwks_url=jwks.url), redis=aredis, broker=stub_broker, bind_db=False)
        assert jwks.reads == 1
        client = await aiohttp_client(app)
        for alg in ("RS256", "ES256", "RS256"):
            assert (await client.get("/me/tickets", headers=bearer(provider.token(alg=alg)))).status == 200
        assert jwks.reads == 1  # known keys within JWT_JWKS_CACHE_S: no read
        rotated = provider.token(key=provider.stray_key, kid="rsa-2")
        await refused(await client.get("/me/tickets", headers=bearer(rotated)), "unknown signing key")
        assert jwks.reads == 2
        provider.publish(jwks.document, provider.stray_key, "rsa-2", "RS256")
        assert (await client.get("/me/tickets", headers=bearer(rotated))).status == 200
        assert jwks.reads == 3


async def test_an_hs256_deployment_takes_its_own_tokens_only(aiohttp_client, settings, aredis, db, stub_broker, runtime,
                                                             provider):
    from web.app import create_app

    client = await aiohttp_client(create_app(jwt_settings(settings), redis=aredis, broker=stub_broker, bind_db=False))
    assert (await client.get("/me/tickets", headers=bearer(provider.token(alg="HS256")))).status == 200
    forged = provider.token(alg="HS256", key="another-secret-that-is-32-bytes-long!!")
    await refused(await client.get("/me/tickets", headers=bearer(forged)), "bad signature")
    await refused(await client.get("/me/tickets", headers=bearer(provider.token())), "algorithm not allowed")


def test_a_jwks_file_that_cannot_be_read_refuses_to_start_naming_the_variable(settings, tmp_path, aredis, stub_broker):
    from web.app import create_app

    for content in (None, "not json", json.dumps({"keys": []})):
        path = tmp_path / "jwks.json"
        if content is not None:
            path.write_text(content)
        with pytest.raises(ConfigError, match="JWT_JWKS_FILE"):
            create_app(jwt_settings(settings, jwks_file=path), redis=aredis, broker=stub_broker, bind_db=False)


@pytest.fixture
async def proxied(aiohttp_client, settings, aredis, db, stub_broker, runtime):
    from web.app import create_app

    return await aiohttp_client(create_app(settings.with_(identity_mode="proxy"), redis=aredis, broker=stub_broker,
                                           bind_db=False))


async def test_behind_a_trusted_proxy_x_user_id_names_the_fan_and_is_always_required(proxied):
    event = make_event()
    assert (await proxied.get("/me/tickets", headers={"X-User-Id": "fan-1"})).status == 200
    resp = await proxied.post(f"/events/{event.id}/waiting-room/join")
    assert resp.status == 400 and (await resp.json())["errors"][0]["field"] == "header.X-User-Id"


async def test_demo_mode_still_lets_a_fan_join_without_an_id(client):
    event = make_event()
    assert (await client.post(f"/events/{event.id}/waiting-room/join")).status == 201
