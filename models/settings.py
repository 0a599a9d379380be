"""The one place that reads the environment.

Every tunable carries its unit in its name. A bad value fails at start-up and names
the variable, e.g. ``Setting HOLD_TTL_S='abc' is not an integer``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from models.errors import ConfigError
from models.identity import HMAC_ALGORITHMS, KEY_ALGORITHMS, MIN_SECRET_BYTES

#: Project root: defaults for files (SQLite database, embedded Redis socket) live in ./var.
ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, default)


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"Setting {name}={raw!r} is not an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigError(f"Setting {name}={raw!r} must be {bound}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"Setting {name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"Setting {name}={raw!r} must be >= {minimum}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"Setting {name}={raw!r} is not a boolean (use true/false)")


def _url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = env.get(name) or default
    scheme = value.split(":", 1)[0].lower()
    if value and scheme not in schemes:
        raise ConfigError(f"Setting {name}={value!r} must start with one of: {', '.join(s + '://' for s in schemes)}")
    return value


def _secret(env: Mapping[str, str], name: str, *, required: bool, minimum: int) -> str:
    value = env.get(name) or ""
    if not value and required:
        raise ConfigError(f"Setting {name} is missing: set the same value in every process of a deployment "
                          f"(make run keeps a generated one in var/secrets.env)")
    if value and len(value) < minimum:
        raise ConfigError(f"Setting {name} must be at least {minimum} characters")
    return value


def _identity(env: Mapping[str, str], d: Settings) -> dict[str, Any]:
    """The identity settings; a mode that cannot work refuses to start, naming the variable."""
    mode = _str(env, "IDENTITY_MODE", d.identity_mode).strip().lower()
    if mode not in IDENTITY_MODES:
        raise ConfigError(f"Setting IDENTITY_MODE={mode!r} must be one of: {', '.join(IDENTITY_MODES)}")
    out: dict[str, Any] = {
        "identity_mode": mode, "jwt_issuer": _str(env, "JWT_ISSUER", ""), "jwt_audience": _str(env, "JWT_AUDIENCE", ""),
        "jwt_secret": env.get("JWT_SECRET") or "", "jwt_jwks_file": _str(env, "JWT_JWKS_FILE", ""),
        "jwt_jwks_url": _url(env, "JWT_JWKS_URL", "", ("https", "http")),
        "jwt_jwks_cache_s": _int(env, "JWT_JWKS_CACHE_S", d.jwt_jwks_cache_s, minimum=10),
        "jwt_leeway_s": _int(env, "JWT_LEEWAY_S", d.jwt_leeway_s, maximum=300),
    }
    url = out["jwt_jwks_url"]
    if url.lower().startswith("http://") and urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"Setting JWT_JWKS_URL={url!r} must be https:// (plain http only for a loopback host)")
    if mode != "jwt":
        return out
    for name in ("JWT_ISSUER", "JWT_AUDIENCE"):
        if not env.get(name):
            raise ConfigError(f"Setting {name} is required when IDENTITY_MODE=jwt")
    sources = [n for n in ("JWT_SECRET", "JWT_JWKS_FILE", "JWT_JWKS_URL") if env.get(n)]
    if len(sources) != 1:
        raise ConfigError("Set exactly one of JWT_SECRET, JWT_JWKS_FILE, JWT_JWKS_URL when IDENTITY_MODE=jwt "
                          f"(got {', '.join(sources) or 'none'})")
    hmac_keyed = sources[0] == "JWT_SECRET"
    if hmac_keyed and len(out["jwt_secret"].encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"Setting JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
    default_algs = "HS256" if hmac_keyed else "RS256,ES256"
    algs = tuple(a.strip() for a in _str(env, "JWT_ALGORITHMS", default_algs).split(",") if a.strip())
    allowed = HMAC_ALGORITHMS if hmac_keyed else KEY_ALGORITHMS
    # Mixing HMAC and public-key algorithms is the classic "verify RS256 as HS256 with the
    # public key" confusion: the key source decides the family.
    wrong = [a for a in algs if a not in allowed]
    if not algs or wrong:
        raise ConfigError(f"Setting JWT_ALGORITHMS={','.join(algs)!r} may only name {', '.join(sorted(allowed))} "
                          f"with {sources[0]}")
    out["jwt_algorithms"] = algs
    return out


#: Values of IDENTITY_MODE.
IDENTITY_MODES = ("demo", "jwt", "proxy")


@dataclass(frozen=True)
class Settings:
    """Frozen configuration; build it with :meth:`from_env`, change it in tests with :meth:`with_`."""

    #: Peewee database URL: ``sqlite:///path`` (default under ./var) or ``postgres://...``.
    database_url: str = f"sqlite:///{VAR_DIR / 'ticketdrop.db'}"
    #: Connections in the PostgreSQL pool (per process).
    db_max_connections: int = 20
    #: Threads that run blocking database calls for the web tier.
    db_threads: int = 16
    #: Redis URL (``redis://``, ``rediss://`` or ``unix://``), or a Redis Cluster's nodes
    #: (``redis+cluster://host:port,host:port``; see models/redis.py). ``make run`` starts an embedded one.
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: Every Redis key starts with this (lets tests and several deployments share one Redis).
    redis_prefix: str = "td:"
    #: Dramatiq broker URL: redis/unix (RedisBroker), amqp (RabbitmqBroker), or ``stub://`` (tests).
    broker_url: str = ""
    #: Starts every Dramatiq queue name (``<prefix>reservations``...), so deployments sharing a
    #: RabbitMQ vhost do not share queues. Default: REDIS_PREFIX with ':' as '.' ("" for td:).
    queue_prefix: str = ""
    #: Declare Dramatiq's RabbitMQ queues as quorum queues (replicated over a RabbitMQ cluster).
    broker_quorum_queues: bool = False
    #: Bearer token for /admin routes.
    admin_token: str = ""
    #: Secret for waiting-room tokens, QR signatures and fairness salts (HMAC-SHA256 key).
    secret_key: str = ""
    host: str = "0.0.0.0"
    port: int = 8080
    #: Let several web processes share one port (SO_REUSEPORT).
    reuse_port: bool = False
    #: Allowed CORS origins ("*" allows any). None by default: the pages are served from the API's own
    #: origin; ``make run`` allows the local dev origins (ticketdrop.cli.LOCAL_CORS_ORIGINS).
    cors_origins: tuple[str, ...] = ()
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = 64 * 1024
    #: Longest wait for a request body once its headers are in, in seconds (then 408).
    body_read_timeout_s: float = 15.0
    #: How long a granted hold lasts, in seconds.
    hold_ttl_s: int = 180
    #: How long a waitlist offer (a hold granted to the next fan in line) lasts, in seconds.
    offer_ttl_s: int = 600
    #: How long after purchase a fan may cancel an order themselves, in seconds (0 = not
    #: allowed; an event may override it).
    self_cancel_window_s: int = 0
    #: How long an admitted fan may take to reserve, in seconds.
    admission_ttl_s: int = 600
    #: How long a waiting-room token stays valid, in seconds.
    token_ttl_s: int = 6 * 3600
    #: Positions admitted per wave (events may override).
    wave_size: int = 100
    #: Seconds between admission waves (events may override).
    wave_interval_s: float = 5.0
    #: Tickets one user may hold or buy per event (live holds + paid orders).
    event_purchase_limit: int = 6
    #: How long Idempotency-Key records are kept, in seconds.
    idempotency_ttl_s: int = 24 * 3600
    #: Seconds between expiry & recovery sweeps.
    sweep_interval_s: float = 30.0
    #: Reservation requests one drain step decides together.
    reserve_batch_size: int = 256
    #: Requests per minute per user / per client address (0 disables that limit).
    rate_join_per_min: int = 30
    rate_reserve_per_min: int = 20
    rate_checkout_per_min: int = 30
    rate_per_ip_per_min: int = 600
    #: Lookups of unknown event ids per minute per client address and web process (0 disables):
    #: a flood of random ids costs a database read each and must not grow any cache.
    rate_unknown_event_per_min: int = 60
    #: Trust X-Forwarded-For for the client address (only behind your own proxy).
    trust_forwarded_for: bool = False
    log_level: str = "INFO"
    #: "json" for one JSON object per line, "console" for humans.
    log_format: str = "json"
    #: Directory for prometheus-client multiprocess files ("" = single-process metrics).
    metrics_dir: str = ""
    #: Dramatiq actor retries before a message is dead-lettered.
    actor_max_retries: int = 10
    #: Who a fan is: "demo" (the self-asserted X-User-Id, for ``make run``), "jwt" (a signed
    #: bearer token; X-User-Id is refused) or "proxy" (X-User-Id set by a trusted authenticating
    #: proxy that strips the client's own). See docs/operators.md.
    identity_mode: str = "demo"
    #: JWT checks (identity_mode "jwt"): expected ``iss`` and ``aud``, allowed ``alg`` values.
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_algorithms: tuple[str, ...] = ()
    #: HMAC key for HS256/384/512 tokens (at least 32 bytes); or a JWKS for RS/PS/ES tokens:
    jwt_secret: str = ""
    jwt_jwks_file: str = ""
    jwt_jwks_url: str = ""
    #: How long JWKS keys are cached before they are read again, in seconds.
    jwt_jwks_cache_s: int = 300
    #: Clock skew allowed on exp/nbf/iat, in seconds.
    jwt_leeway_s: int = 30
    #: Rotating ticket codes: one step lasts this long, in seconds (the scanner takes +-1 step).
    rotate_s: int = 15
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, require_secrets: bool = True) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); raises :class:`ConfigError` naming the variable.

        SECRET_KEY and ADMIN_TOKEN are required unless ``require_secrets`` is False (commands that
        neither sign nor serve: init-db, seed): a process must never invent a key that the other
        processes would need to share. ``make run`` keeps generated ones in var/secrets.env."""
        env = os.environ if env is None else env
        d = cls()
        redis_url = _url(env, "REDIS_URL", d.redis_url, ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"))
        if redis_url.split(":", 1)[0].lower().endswith("+cluster") and \
                not (env.get("BROKER_URL") or "").lower().startswith(("amqp", "stub")):
            raise ConfigError(f"Setting REDIS_URL names a Redis Cluster, and Dramatiq's Redis broker cannot run on one: "
                              f"set BROKER_URL to RabbitMQ (amqp://user:password@host:5672/vhost); BROKER_URL is "
                              f"{'unset (it defaults to REDIS_URL)' if not env.get('BROKER_URL') else 'not amqp://'}")
        broker_url = _url(env, "BROKER_URL", redis_url, ("redis", "rediss", "unix", "amqp", "amqps", "stub"))
        redis_prefix = _str(env, "REDIS_PREFIX", d.redis_prefix)
        derived = "" if redis_prefix == d.redis_prefix else re.sub(r"[^A-Za-z0-9._-]", ".", redis_prefix)
        queue_prefix = _str(env, "QUEUE_PREFIX", derived if not derived or derived[0].isalpha() else f"_{derived}")
        if queue_prefix and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9._-]*", queue_prefix):
            raise ConfigError(f"Setting QUEUE_PREFIX={queue_prefix!r} must start with a letter or '_' and hold only "
                              f"letters, digits, '.', '_' and '-' (Dramatiq's queue names)")
        secret = _secret(env, "SECRET_KEY", required=require_secrets, minimum=16)
        admin_token = _secret(env, "ADMIN_TOKEN", required=require_secrets, minimum=1)
        log_format = _str(env, "LOG_FORMAT", d.log_format)
        if log_format not in {"json", "console"}:
            raise ConfigError(f"Setting LOG_FORMAT={log_format!r} must be 'json' or 'console'")
        origins = tuple(o.strip() for o in _str(env, "CORS_ORIGINS", ",".join(d.cors_origins)).split(",") if o.strip())
        return cls(
            database_url=_url(env, "DATABASE_URL", d.database_url, ("sqlite", "postgres", "postgresql", "postgres+pool", "postgresql+pool")),
            db_max_connections=_int(env, "DB_MAX_CONNECTIONS", d.db_max_connections, minimum=1),
            db_threads=_int(env, "DB_THREADS", d.db_threads, minimum=1),
            redis_url=redis_url,
            redis_prefix=redis_prefix,
            broker_url=broker_url,
            queue_prefix=queue_prefix,
            broker_quorum_queues=_bool(env, "BROKER_QUORUM_QUEUES", d.broker_quorum_queues),
            admin_token=admin_token,
            secret_key=secret,
            host=_str(env, "HOST", d.host),
            port=_int(env, "PORT", d.port, minimum=0, maximum=65535),
            reuse_port=_bool(env, "REUSE_PORT", d.reuse_port),
            cors_origins=origins,
            max_body_bytes=_int(env, "MAX_BODY_BYTES", d.max_body_bytes, minimum=1024),
            body_read_timeout_s=_float(env, "BODY_READ_TIMEOUT_S", d.body_read_timeout_s, minimum=0.1),
            hold_ttl_s=_int(env, "HOLD_TTL_S", d.hold_ttl_s, minimum=1),
            offer_ttl_s=_int(env, "OFFER_TTL_S", d.offer_ttl_s, minimum=1),
            self_cancel_window_s=_int(env, "SELF_CANCEL_WINDOW_S", d.self_cancel_window_s),
            admission_ttl_s=_int(env, "ADMISSION_TTL_S", d.admission_ttl_s, minimum=1),
            token_ttl_s=_int(env, "TOKEN_TTL_S", d.token_ttl_s, minimum=60),
            wave_size=_int(env, "WAVE_SIZE", d.wave_size, minimum=1),
            wave_interval_s=_float(env, "WAVE_INTERVAL_S", d.wave_interval_s, minimum=0.1),
            event_purchase_limit=_int(env, "EVENT_PURCHASE_LIMIT", d.event_purchase_limit, minimum=1),
            idempotency_ttl_s=_int(env, "IDEMPOTENCY_TTL_S", d.idempotency_ttl_s, minimum=60),
            sweep_interval_s=_float(env, "SWEEP_INTERVAL_S", d.sweep_interval_s, minimum=1.0),
            reserve_batch_size=_int(env, "RESERVE_BATCH_SIZE", d.reserve_batch_size, minimum=1, maximum=5000),
            rate_join_per_min=_int(env, "RATE_JOIN_PER_MIN", d.rate_join_per_min),
            rate_reserve_per_min=_int(env, "RATE_RESERVE_PER_MIN", d.rate_reserve_per_min),
            rate_checkout_per_min=_int(env, "RATE_CHECKOUT_PER_MIN", d.rate_checkout_per_min),
            rate_per_ip_per_min=_int(env, "RATE_PER_IP_PER_MIN", d.rate_per_ip_per_min),
            rate_unknown_event_per_min=_int(env, "RATE_UNKNOWN_EVENT_PER_MIN", d.rate_unknown_event_per_min, minimum=0),
            trust_forwarded_for=_bool(env, "TRUST_FORWARDED_FOR", d.trust_forwarded_for),
            log_level=_str(env, "LOG_LEVEL", d.log_level).upper(),
            log_format=log_format,
            metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR", ""),
            actor_max_retries=_int(env, "ACTOR_MAX_RETRIES", d.actor_max_retries),
            rotate_s=_int(env, "ROTATE_S", d.rotate_s, minimum=5, maximum=300),
            **_identity(env, d),
        )

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests use this)."""
        return replace(self, **changes)

    @property
    def secret_bytes(self) -> bytes:
        return self.secret_key.encode()

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to log: secrets masked."""
        hidden = {"admin_token", "secret_key", "jwt_secret"}
        return {f.name: ("***" if f.name in hidden else getattr(self, f.name)) for f in fields(self) if f.name != "extra"}
