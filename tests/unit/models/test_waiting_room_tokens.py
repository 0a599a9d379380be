"""Waiting-room tokens: unguessable, bound to event and user, refused when forged or foreign."""

from __future__ import annotations

import base64
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.waiting_room import tokens

SECRET = b"test-secret-key-0123456789abcdef"
EVENT = "0b7c0f5e-6f5d-4b4e-9a59-3f2b8c1d2e3f"
OTHER_EVENT = "5a1f2c3d-0000-4000-8000-000000000001"


def test_a_token_is_44_url_safe_characters_that_parse_back_to_the_same_place():
    token = tokens.issue(SECRET, EVENT, "fan-1")
    assert len(token.text) == tokens.TOKEN_CHARS
    assert set(token.text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    parsed = tokens.parse(SECRET, EVENT, token.text)
    assert parsed == token


def test_the_same_user_always_gets_the_same_token_and_other_users_or_events_do_not():
    first = tokens.issue(SECRET, EVENT, "fan-1")
    assert tokens.issue(SECRET, EVENT, "fan-1") == first
    assert tokens.issue(SECRET, EVENT, "fan-2").text != first.text
    assert tokens.issue(SECRET, OTHER_EVENT, "fan-1").text != first.text


def test_anonymous_joins_draw_a_fresh_128_bit_id_every_time():
    ids = {tokens.issue(SECRET, EVENT, None).id for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 16 for i in ids)


def test_another_events_token_a_tampered_token_and_a_token_under_another_secret_do_not_parse():
    token = tokens.issue(SECRET, EVENT, "fan-1").text
    assert tokens.parse(SECRET, OTHER_EVENT, token) is None
    assert tokens.parse(b"another-secret-key-0123456789abc", EVENT, token) is None
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[5] ^= 1
    assert tokens.parse(SECRET, EVENT, base64.urlsafe_b64encode(bytes(raw)).decode()) is None


def test_a_token_spelled_with_standard_base64_characters_is_not_the_same_token():
    token = tokens.issue(SECRET, EVENT, "fan-1").text
    while "-" not in token and "_" not in token:
        token = tokens.issue(SECRET, EVENT, None).text
    respelled = token.replace("-", "+").replace("_", "/")
    assert tokens.parse(SECRET, EVENT, token) is not None
    assert tokens.parse(SECRET, EVENT, respelled) is None


@given(st.text(max_size=60))
def test_parsing_arbitrary_text_never_raises(text):
    assert tokens.parse(SECRET, EVENT, text) is None


def test_a_user_token_belongs_only_to_its_user():
    token = tokens.issue(SECRET, EVENT, "fan-1")
    assert token.belongs_to(SECRET, EVENT, "fan-1")
    assert not token.belongs_to(SECRET, EVENT, "fan-2")
    assert not token.belongs_to(SECRET, EVENT, token.text)
    assert not token.belongs_to(SECRET, EVENT, None)


def test_an_anonymous_token_belongs_to_a_caller_whose_user_id_is_the_token_itself():
    token = tokens.issue(SECRET, EVENT, None)
    assert token.belongs_to(SECRET, EVENT, token.text)
    assert not token.belongs_to(SECRET, EVENT, "fan-1")


def test_the_bucket_field_rebuilds_the_whole_token():
    for user in ("fan-1", None):
        token = tokens.issue(SECRET, EVENT, user)
        assert len(token.field) == 23
        assert tokens.from_field(SECRET, EVENT, token.field) == token
        assert 0 <= token.bucket < tokens.BUCKETS


@given(kind=st.sampled_from([tokens.KIND_USER, tokens.KIND_ANON]), token_id=st.binary(min_size=16, max_size=16))
def test_the_bucket_field_read_off_the_token_text_is_the_base64url_of_its_kind_and_id(kind, token_id):
    token = tokens.compose(SECRET, EVENT, kind, token_id)
    assert token.field == base64.urlsafe_b64encode(bytes((kind,)) + token_id).rstrip(b"=").decode()
    assert tokens.parse(SECRET, EVENT, token.text).field == token.field


@pytest.mark.parametrize("secret", [SECRET, b"a-secret-longer-than-one-sha256-block-" * 3], ids=["short", "long"])
def test_a_token_is_the_documented_hmac_sha256_of_its_event_kind_and_id(secret):
    token = tokens.issue(secret, EVENT, "fan-1")
    raw = base64.urlsafe_b64decode(token.text)
    assert token.id == hmac.digest(secret, f"wr-id|{EVENT}|fan-1".encode(), "sha256")[:16]
    assert raw[17:] == hmac.digest(secret, b"wr-token|" + EVENT.encode() + b"|" + raw[:17], "sha256")[:16]
    assert tokens.parse(secret, EVENT, token.text) == token


def test_padding_a_cut_or_changed_last_character_and_non_ascii_are_not_tokens():
    text = tokens.issue(SECRET, EVENT, None).text
    changed = text[:-1] + ("A" if text[-1] != "A" else "B")
    spellings = [text[:-1] + "=", text + "=", text[:-1] + "é", changed, text[:43], "", None]
    assert [tokens.parse(SECRET, EVENT, s) for s in spellings] == [None] * len(spellings)


@given(st.binary(max_size=200), st.binary(max_size=40), st.binary(max_size=200))
def test_the_keyed_hash_is_hmac_sha256_for_any_secret_prefix_and_message(secret, prefix, rest):
    assert tokens._PrefixedHmac(secret, prefix).digest(rest) == hmac.digest(secret, prefix + rest, "sha256")
