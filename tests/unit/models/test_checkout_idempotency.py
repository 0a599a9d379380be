"""Idempotency-Key records: claim, replay, mismatch, in flight, take-over, expiry, scoping."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from models.checkout import idempotency
from models.checkout.idempotency import Claim, Replay
from models.errors import IdempotencyMismatch, InFlight, InvalidInput
from models.tables import IdempotencyRecord, utcnow

SCOPE = "POST /checkout/sessions"
TTL_S = 3600


def _claim(key="k1", user="fan-1", request_hash="h1", scope=SCOPE, now=None):
    return idempotency.claim(user_id=user, scope=scope, key=key, request_hash=request_hash, ttl_s=TTL_S, now=now)


def test_a_new_key_is_claimed_and_a_completed_one_replays_the_stored_response(db):
    first = _claim()
    assert isinstance(first, Claim)
    assert idempotency.complete(first, 201, '{"id": "s1"}') is True
    again = _claim()
    assert again == Replay(201, '{"id": "s1"}')


def test_the_same_key_with_a_different_payload_is_a_mismatch(db):
    idempotency.complete(_claim(request_hash="h1"), 201, "{}")
    with pytest.raises(IdempotencyMismatch) as info:
        _claim(request_hash="h2")
    assert info.value.status == 422


def test_the_same_key_while_the_first_request_runs_is_in_flight_with_retry_after(db):
    _claim()
    with pytest.raises(InFlight) as info:
        _claim()
    assert info.value.status == 409 and info.value.retry_after >= 1


def test_a_mismatch_wins_over_in_flight(db):
    _claim(request_hash="h1")
    with pytest.raises(IdempotencyMismatch):
        _claim(request_hash="h2")


def test_an_abandoned_claim_is_taken_over_and_its_late_holder_cannot_complete_it(db):
    stale = _claim()
    later = utcnow() + timedelta(seconds=idempotency.LOCK_S + 1)
    fresh = _claim(now=later)
    assert isinstance(fresh, Claim) and fresh.locked_until > stale.locked_until
    assert idempotency.complete(stale, 201, '{"from": "stale"}') is False
    assert idempotency.complete(fresh, 201, '{"from": "fresh"}') is True
    assert _claim(now=later) == Replay(201, '{"from": "fresh"}')


def test_a_released_key_runs_again(db):
    idempotency.release(_claim())
    assert isinstance(_claim(), Claim)


def test_a_record_past_its_ttl_is_replaced_even_for_another_payload(db):
    idempotency.complete(_claim(request_hash="h1"), 201, "{}")
    after_ttl = utcnow() + timedelta(seconds=TTL_S + 1)
    assert isinstance(_claim(request_hash="h2", now=after_ttl), Claim)
    assert IdempotencyRecord.select().count() == 1


def test_keys_are_scoped_to_the_user_and_the_endpoint(db):
    idempotency.complete(_claim(user="fan-1"), 201, "{}")
    assert isinstance(_claim(user="fan-2"), Claim)
    assert isinstance(_claim(user="fan-1", scope="POST /checkout/confirm"), Claim)


def test_concurrent_claims_of_one_key_let_exactly_one_through(db):
    outcomes: list[object] = []
    barrier = threading.Barrier(12)

    def attempt():
        barrier.wait()
        with db.connection_context():
            try:
                outcomes.append(_claim())
            except InFlight as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(o, Claim) for o in outcomes) == 1
    assert sum(isinstance(o, InFlight) for o in outcomes) == 11


def test_purge_deletes_only_records_past_their_ttl(db):
    _claim(key="old", now=utcnow() - timedelta(seconds=TTL_S + 5))
    _claim(key="new")
    assert idempotency.purge_expired() == 1
    assert [r.key for r in IdempotencyRecord.select()] == ["new"]


def test_a_required_key_that_is_missing_is_invalid_input_naming_the_header():
    with pytest.raises(InvalidInput) as info:
        idempotency.parse_key(None, required=True)
    assert info.value.status == 400
    assert info.value.errors[0]["field"] == "idempotency_key"


def test_an_optional_key_may_be_absent_and_a_quoted_structured_header_string_is_unquoted():
    assert idempotency.parse_key(None, required=False) is None
    assert idempotency.parse_key('"8e03978e-40d5"', required=True) == "8e03978e-40d5"


@pytest.mark.parametrize("raw", ["x" * 256, "has space", "é"])
def test_malformed_keys_are_invalid_input(raw):
    with pytest.raises(InvalidInput):
        idempotency.parse_key(raw, required=True)


def test_the_fingerprint_ignores_key_order_but_not_method_path_or_values():
    base = idempotency.fingerprint("POST", "/checkout/confirm", {"a": 1, "b": "x"})
    assert base == idempotency.fingerprint("post", "/checkout/confirm", {"b": "x", "a": 1})
    assert base != idempotency.fingerprint("POST", "/checkout/sessions", {"a": 1, "b": "x"})
    assert base != idempotency.fingerprint("POST", "/checkout/confirm", {"a": 2, "b": "x"})
