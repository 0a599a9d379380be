"""Locally minted identity-provider keys and tokens for tests (no network, no real provider)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
        document: dict = {"keys": []}
        for kid, key, alg in (("rsa-1", self.rsa_key, "RS256"), ("ec-1", self.ec_key, "ES256")):
            self.publish(document, key, kid, alg)
        return document

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def publish(self, document: dict, key: Any, kid: str, alg: str) -> dict:
        """``document`` with the public half of ``key`` added as ``kid`` (the provider rotating in a key)."""
        jwk = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(key.public_key()))
        document["keys"].append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        return document

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


@dataclass
class JwksServer:
    """A provider's JWKS endpoint on loopback: serves ``document`` and counts the reads."""

    url: str
    document: dict
    reads: int = 0


@contextmanager
def serve_jwks(document: dict) -> Iterator[JwksServer]:
    """Serve ``document`` at ``<url>`` (plain http on 127.0.0.1, a port of its own) until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            served.reads += 1
            body = json.dumps(served.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served = JwksServer(f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", document)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


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


def jwt_settings(settings: Any, *, jwks_file: Path | None = None, jwks_url: str = "", **overrides: Any) -> Any:
    """``settings`` in IDENTITY_MODE=jwt, keyed by ``jwks_file`` or ``jwks_url`` (RS256/ES256) or the HS256 secret."""
    if jwks_file is not None:
        keyed = {"jwt_jwks_file": str(jwks_file), "jwt_algorithms": ("RS256", "ES256")}
    elif jwks_url:
        keyed = {"jwt_jwks_url": jwks_url, "jwt_algorithms": ("RS256", "ES256")}
    else:
        keyed = {"jwt_secret": HS_SECRET, "jwt_algorithms": ("HS256",)}
    return settings.with_(identity_mode="jwt", jwt_issuer=ISSUER, jwt_audience=AUDIENCE, **keyed, **overrides)
