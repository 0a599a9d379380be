"""Waiting-room tokens: unguessable, bound to one event and one fan, checked without storage.

A token is ``base64url(kind || id || mac)`` (33 bytes, 44 characters):

- ``kind`` is ``KIND_USER`` (joined with an ``X-User-Id``) or ``KIND_ANON`` (joined without one);
- ``id`` (16 bytes) names the place in the queue. For a known user it is derived,
  ``HMAC(secret, "wr-id|event|user")[:16]``, so joining again yields the same token without a
  user -> token map; an anonymous join draws 16 random bytes and the token itself is the fan's
  identity (the seed's fallback);
- ``mac`` = ``HMAC(secret, "wr-token|event|kind|id")[:16]`` binds the token to the event, so a
  forged token or another event's token is refused before any Redis lookup.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import os
import re
from typing import NamedTuple

try:
    # OpenSSL's HMAC object, the one hmac.new wraps: copying it without the wrapper saves a
    # third of a MAC (1.0 -> 0.7 µs; a join makes two). Same algorithm, same bytes.
    from _hashlib import hmac_new as _hmac_new
except ImportError:  # pragma: no cover - a Python built without OpenSSL
    _hmac_new = hmac.new

KIND_USER = 1
KIND_ANON = 2
_ID_BYTES = 16
_MAC_BYTES = 16
_RAW_BYTES = 1 + _ID_BYTES + _MAC_BYTES
#: Length of an encoded token, in characters (33 bytes in unpadded base64url).
TOKEN_CHARS = 44
#: A token's spelling: 44 url-safe base64 characters carry exactly 33 bytes (no spare bits, no
#: padding), so every string of them decodes to one token and re-encodes to itself.
_CANONICAL = re.compile(r"[A-Za-z0-9_-]{44}")
#: The queue is kept in this many small Redis hashes, chosen by the id (see models.waiting_room.store).
BUCKET_BITS = 14
BUCKETS = 1 << BUCKET_BITS
_BUCKET_MASK = BUCKETS - 1


class Token(NamedTuple):
    """A decoded, MAC-checked token of one event. (A named tuple: made on every join and first
    status poll, where a frozen dataclass cost twice as much.)"""

    text: str
    kind: int
    id: bytes

    @property
    def field(self) -> str:
        """The token's field in its bucket hash: base64url(kind || id), 23 characters.

        Read off the token's own text: its first 22 characters carry the first 132 bits of
        kind || id, the 23rd the id's last 4 bits (then zero padding), where the text's 23rd
        has the MAC's first 2 bits instead (a fifth of encoding the 17 bytes again)."""
        return self.text[:22] + _URLSAFE_ALPHABET[(self.id[-1] & 0x0F) << 2]

    @property
    def bucket(self) -> int:
        return int.from_bytes(self.id[:2], "big") & _BUCKET_MASK

    def belongs_to(self, secret: bytes, event_id: str, user_id: str | None) -> bool:
        """True if ``user_id`` may use this token: the user it was derived for, or, for an
        anonymous token, a caller whose X-User-Id is the token itself."""
        if self.kind == KIND_ANON:
            return user_id is not None and hmac.compare_digest(user_id.encode(), self.text.encode())
        return user_id is not None and hmac.compare_digest(self.id, user_place_id(secret, event_id, user_id))


_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_URLSAFE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _b64(raw: bytes) -> str:
    """Unpadded base64url (``base64.urlsafe_b64encode`` without its Python layers)."""
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def bucket_of(token_id: bytes) -> int:
    return int.from_bytes(token_id[:2], "big") & _BUCKET_MASK


class _PrefixedHmac:
    """HMAC-SHA256(secret, prefix || rest) with the key and the prefix hashed once: a token's MAC
    then costs a copy of the keyed state instead of a new HMAC (keying was most of the work of
    ``hmac.digest`` for a message this short, a tenth of a first status poll). OpenSSL's HMAC
    object does the copying: measured at 0.7 µs per MAC, against 1.0 µs through ``hmac.HMAC``'s
    wrapper, 0.6 µs for the same RFC 2104 steps written out by hand and 6.6 µs for
    ``hmac.digest``: not worth our own crypto code."""

    __slots__ = ("_keyed",)

    def __init__(self, secret: bytes, prefix: bytes) -> None:
        self._keyed = _hmac_new(secret, prefix, "sha256")

    def digest(self, rest: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(rest)
        return mac.digest()


class _EventKeys:
    """One event's two keyed hashes: the place id's (``wr-id``) and the token MAC's (``wr-token``).
    Looked up once per token (one cache lookup, not one per MAC: a join makes both MACs)."""

    __slots__ = ("place", "token")

    def __init__(self, secret: bytes, event_id: str) -> None:
        self.place = _PrefixedHmac(secret, f"wr-id|{event_id}|".encode())
        self.token = _PrefixedHmac(secret, f"wr-token|{event_id}|".encode())

    def place_id(self, user_id: str) -> bytes:
        return self.place.digest(user_id.encode())[:_ID_BYTES]

    def mac(self, head: bytes) -> bytes:
        """HMAC(secret, "wr-token|event|" || head), cut to _MAC_BYTES; head = kind || id."""
        return self.token.digest(head)[:_MAC_BYTES]

    def compose(self, kind: int, token_id: bytes) -> Token:
        head = bytes((kind,)) + token_id
        return Token(_b64(head + self.mac(head)), kind, token_id)


@functools.lru_cache(maxsize=256)
def _keyed(secret: bytes, event_id: str) -> _EventKeys:
    """The event's keyed hashes (a process serves a few events)."""
    return _EventKeys(secret, event_id)


def user_place_id(secret: bytes, event_id: str, user_id: str) -> bytes:
    """The deterministic place id of ``user_id`` in the event's queue: HMAC(secret, "wr-id|event|user")."""
    return _keyed(secret, event_id).place_id(user_id)


def _mac(secret: bytes, event_id: str, kind: int, token_id: bytes) -> bytes:
    """HMAC(secret, "wr-token|event|" || kind || id), cut to _MAC_BYTES."""
    return _keyed(secret, event_id).mac(bytes((kind,)) + token_id)


def issue(secret: bytes, event_id: str, user_id: str | None) -> Token:
    """The token for ``user_id`` (the same one every time), or a fresh anonymous one if None."""
    keys = _keyed(secret, event_id)
    if user_id is None:
        return keys.compose(KIND_ANON, os.urandom(_ID_BYTES))
    return keys.compose(KIND_USER, keys.place_id(user_id))


def compose(secret: bytes, event_id: str, kind: int, token_id: bytes) -> Token:
    """The token for a known kind and id (the fairness draw rebuilds tokens from bucket fields)."""
    return _keyed(secret, event_id).compose(kind, token_id)


def text_of_field(secret: bytes, event_id: str, field: str) -> str:
    """The token text whose bucket field is ``field`` (the draw's fast path: no Token object)."""
    head = base64.urlsafe_b64decode(field + "=")
    return _b64(head + _mac(secret, event_id, head[0], head[1:]))


def bucket_of_field(field: str) -> int:
    """The bucket of the token whose bucket field is ``field``."""
    return bucket_of(base64.urlsafe_b64decode(field + "=")[1:])


def field_of_user(secret: bytes, event_id: str, user_id: str) -> str:
    """The bucket field of ``user_id``'s place: its own token's for a user token, or, when the
    X-User-Id is an anonymous token of this event (the seed's fallback), that token's."""
    anonymous = parse(secret, event_id, user_id)
    if anonymous is not None and anonymous.kind == KIND_ANON:
        return anonymous.field
    return _b64(bytes((KIND_USER,)) + user_place_id(secret, event_id, user_id))


def from_field(secret: bytes, event_id: str, field: str) -> Token:
    """The token whose bucket field is ``field``."""
    raw = base64.urlsafe_b64decode(field + "=")
    return compose(secret, event_id, raw[0], raw[1:])


def parse(secret: bytes, event_id: str, text: str | None) -> Token | None:
    """The token if ``text`` is a well-formed token of this event, else None (never raises)."""
    # b64decode tolerates '+', '/' and junk: only the canonical spelling is a token.
    if not text or len(text) != TOKEN_CHARS or _CANONICAL.fullmatch(text) is None:
        return None
    try:
        # base64.urlsafe_b64decode's own steps, without its three Python layers.
        raw = binascii.a2b_base64(text.encode().translate(_FROM_URLSAFE))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _RAW_BYTES or raw[0] not in (KIND_USER, KIND_ANON):
        return None
    kind, token_id, mac = raw[0], raw[1:1 + _ID_BYTES], raw[1 + _ID_BYTES:]
    if not hmac.compare_digest(mac, _mac(secret, event_id, kind, token_id)):
        return None
    return Token(text, kind, token_id)
