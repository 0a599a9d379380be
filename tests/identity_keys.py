"""Locally minted identity-provider keys and tokens for tests (no network, no real provider)."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://id.test.example"
AUDIENCE = "ticketdrop-test"
HS_SECRET = "an-hs256-secret-of-at-least-32-bytes!"


@dataclass
class Provider:
    """An identity provider of our own: an RSA and an EC key in a JWKS, plus one key it never published."""

    rsa_key: Any = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec_key: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    stray_key: Any = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwks(self) -> dict:
        keys = []
        for kid, key, alg in (("rsa-1", self.rsa_key, "RS256"), ("ec-1", self.ec_key, "ES256")):
            algorithm = jwt.get_algorithm_by_name(alg)
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        return {"keys": keys}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def token(self, sub: str = "fan-1", *, alg: str = "RS256", kid: str | None = None, key: Any = None,
              ttl_s: int = 300, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + ttl_s, **claims}
        body = {k: v for k, v in body.items() if v is not None}
        if alg == "HS256":
            return jwt.encode(body, key or HS_SECRET, algorithm="HS256")
        if key is None:
            key = self.ec_key if alg == "ES256" else self.rsa_key
        kid = kid or ("ec-1" if alg == "ES256" else "rsa-1")
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unsigned(sub: str = "fan-1") -> str:
    """An ``alg: none`` token (no signature at all)."""
    now = int(time.time())
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'iss': ISSUER, 'aud': AUDIENCE, 'sub': sub, 'exp': now + 300})}."


def tampered(token: str, **changes: Any) -> str:
    """``token`` with its payload changed and the original signature kept."""
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def jwt_settings(settings: Any, *, jwks_file: Path | None = None, **overrides: Any) -> Any:
    """``settings`` in IDENTITY_MODE=jwt, keyed by ``jwks_file`` (RS256/ES256) or the HS256 secret."""
    if jwks_file is not None:
        keyed = {"jwt_jwks_file": str(jwks_file), "jwt_algorithms": ("RS256", "ES256")}
    else:
        keyed = {"jwt_secret": HS_SECRET, "jwt_algorithms": ("HS256",)}
    return settings.with_(identity_mode="jwt", jwt_issuer=ISSUER, jwt_audience=AUDIENCE, **keyed, **overrides)
