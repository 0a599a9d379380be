"""Verified fan identity: signed bearer tokens (JWT), checked with PyJWT.

A token is accepted only if its signature verifies with a configured key, its ``alg`` is on the
allow-list (``none`` never is), and ``iss``, ``aud``, ``exp`` and ``sub`` are present and right.
The fan's user id is the token's subject. Keys come from a shared secret (HS256/384/512) or from
a JWKS (RS*/PS*/ES*) read from a file or URL, cached for JWT_JWKS_CACHE_S and read again
sooner when a token names a key id the cache does not know (the identity provider rotated), at
most once per JWKS_RETRY_S so a flood of made-up key ids cannot flood the provider.

Every refusal is an :class:`InvalidToken` (401) carrying RFC 6750's ``WWW-Authenticate``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt

from models.errors import ConfigError, Unauthorized

log = logging.getLogger("ticketdrop.identity")

#: A user id: 1..128 printable ASCII characters without spaces (X-User-Id or a token's subject).
USER_ID_RE = re.compile(r"^[\x21-\x7e]{1,128}$")
#: Algorithms a deployment may allow; HMAC ones need JWT_SECRET, the others a JWKS.
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
KEY_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
#: Shortest JWT_SECRET, in bytes (RFC 7518 3.2: at least the hash size of HS256).
MIN_SECRET_BYTES = 32
#: Least time between two JWKS reads caused by unknown key ids, in seconds.
JWKS_RETRY_S = 10.0
#: Largest JWKS document read, in bytes, and how long a fetch may take, in seconds.
JWKS_MAX_BYTES = 1 << 20
JWKS_TIMEOUT_S = 5.0
#: The realm named in every WWW-Authenticate challenge.
REALM = "ticketdrop"


def challenge(error: str | None = None, description: str | None = None) -> str:
    """An RFC 6750 ``WWW-Authenticate`` value (descriptions are our own fixed words, no quotes)."""
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{description}"'
    return value


class InvalidToken(Unauthorized, code="invalid_token", title="Invalid bearer token"):
    """The bearer token is missing, malformed, expired, or not signed by a trusted key."""

    def __init__(self, description: str) -> None:
        super().__init__(f"The bearer token was refused: {description}", field="bearer_token",
                         headers={"WWW-Authenticate": challenge("invalid_token", description)})


def missing_token() -> Unauthorized:
    """401 for a request that brings no credentials (RFC 6750 3.1: no error code then)."""
    return Unauthorized("Sign in: send 'Authorization: Bearer <token>' from your identity provider",
                        field="bearer_token", headers={"WWW-Authenticate": challenge()})


class JwksKeys:
    """The identity provider's public keys, by key id, read from ``load()`` (a JWKS document).

    Thread-safe; :meth:`refresh` blocks (file or network) and is called off the event loop.
    """

    def __init__(self, load: Callable[[], bytes], *, source: str, cache_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self.source = source
        self.cache_s = cache_s
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._tried_at = float("-inf")
        self._lock = threading.Lock()

    def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key ``kid`` names; a token without ``kid`` may use the only key of a one-key set."""
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    def due(self, kid: str | None) -> bool:
        """True when the keys should be read again before checking a token naming ``kid``: the
        cache is older than JWT_JWKS_CACHE_S, or ``kid`` is unknown (the provider rotated)."""
        now = self._clock()
        if now - self._tried_at < JWKS_RETRY_S:
            return False
        stale = self._fetched_at is None or now - self._fetched_at >= self.cache_s
        return stale or self.key(kid) is None

    def refresh(self, *, strict: bool = False) -> bool:
        """Read the JWKS again. A failure keeps the keys we had (logged), or raises ConfigError
        naming the source when ``strict`` (start-up). Returns True if the keys were replaced."""
        with self._lock:
            self._tried_at = self._clock()
            try:
                keys = parse_jwks(self._load())
            except (OSError, ValueError, jwt.PyJWKError, jwt.PyJWKSetError) as exc:
                if strict:
                    raise ConfigError(f"Setting {self.source} could not be read as a JWKS: {exc}") from None
                log.warning("JWKS refresh failed; keeping the cached keys", extra={"source": self.source, "error": str(exc)})
                return False
            self._keys = keys
            self._fetched_at = self._tried_at
            return True


def parse_jwks(raw: bytes) -> dict[str | None, jwt.PyJWK]:
    """Signing keys of a JWKS document by ``kid``; raises ValueError if none is usable."""
    document = json.loads(raw)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    keys: dict[str | None, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            continue  # a key type we do not support (or a private key's extras): skip, do not fail the set
        if key.algorithm_name in KEY_ALGORITHMS:
            keys[entry.get("kid")] = key
    if not keys:
        raise ValueError("the JWKS has no RS/PS/ES signing key")
    return keys


def file_loader(path: str) -> Callable[[], bytes]:
    def load() -> bytes:
        return Path(path).read_bytes()[:JWKS_MAX_BYTES + 1]

    return load


def url_loader(url: str) -> Callable[[], bytes]:
    def load() -> bytes:
        request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "ticketdrop"})
        with urllib.request.urlopen(request, timeout=JWKS_TIMEOUT_S) as response:  # noqa: S310 (scheme checked in settings)
            body = response.read(JWKS_MAX_BYTES + 1)
        if len(body) > JWKS_MAX_BYTES:
            raise ValueError(f"the JWKS is over {JWKS_MAX_BYTES} bytes")
        return body

    return load


class TokenVerifier:
    """Checks bearer tokens against the settings' issuer, audience, algorithms and keys."""

    def __init__(self, *, issuer: str, audience: str, algorithms: tuple[str, ...], leeway_s: float,
                 secret: bytes = b"", jwks: JwksKeys | None = None) -> None:
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.leeway_s = leeway_s
        self._secret = secret
        self.jwks = jwks

    @classmethod
    def from_settings(cls, settings: Any) -> TokenVerifier:
        jwks = None
        if settings.jwt_jwks_file:
            jwks = JwksKeys(file_loader(settings.jwt_jwks_file), source="JWT_JWKS_FILE", cache_s=settings.jwt_jwks_cache_s)
        elif settings.jwt_jwks_url:
            jwks = JwksKeys(url_loader(settings.jwt_jwks_url), source="JWT_JWKS_URL", cache_s=settings.jwt_jwks_cache_s)
        return cls(issuer=settings.jwt_issuer, audience=settings.jwt_audience, algorithms=settings.jwt_algorithms,
                   leeway_s=settings.jwt_leeway_s, secret=settings.jwt_secret.encode(), jwks=jwks)

    def key_id(self, token: str) -> str | None:
        """The token's ``kid`` header, unverified (only to pick a key); None if absent or garbled."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return None
        return kid if isinstance(kid, str) else None

    def subject(self, token: str) -> str:
        """The verified token's subject (the fan's user id). Raises InvalidToken (401)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        if header.get("alg") not in self.algorithms:
            raise InvalidToken("algorithm not allowed")
        key: Any = self._secret
        if self.jwks is not None:
            kid = header.get("kid")
            key = self.jwks.key(kid if isinstance(kid, str) else None)
            if key is None:
                raise InvalidToken("unknown signing key")
        try:
            claims = jwt.decode(token, key, algorithms=self.algorithms, audience=self.audience, issuer=self.issuer,
                                leeway=self.leeway_s, options={"require": ["exp", "iss", "aud", "sub"],
                                                               "enforce_minimum_key_length": True})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("wrong issuer") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token not valid yet") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"claim {exc.claim} missing") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("bad signature") from None
        except jwt.PyJWTError:
            raise InvalidToken("token not acceptable") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not USER_ID_RE.match(subject):
            raise InvalidToken("subject is not a usable user id")
        return subject
