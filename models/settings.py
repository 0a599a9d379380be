"""The one place that reads the environment.

:class:`Settings` is a pydantic-settings model: each field is read from the environment
variable of its name in capitals (``hold_ttl_s`` from ``HOLD_TTL_S``), typed and bounded by
its annotation, and described by its ``description`` (docs/operators.md's settings table is
generated from these: :func:`settings_table`). A bad value fails at start-up and names the
variable, e.g. ``Setting HOLD_TTL_S='abc' is not valid: Input should be a valid integer...``.

Only :meth:`Settings.from_env` reads an environment; ``Settings(...)`` takes its keyword
arguments alone (tests), so a test never picks up the machine's variables by accident.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from models.errors import ConfigError
from models.identity import HMAC_ALGORITHMS, KEY_ALGORITHMS, MIN_SECRET_BYTES

#: Project root: defaults for files (SQLite database, embedded Redis socket) live in ./var.
ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"

#: Values of IDENTITY_MODE.
IDENTITY_MODES = ("demo", "jwt", "proxy")
#: Values of LOG_FORMAT.
LOG_FORMATS = ("json", "console")
#: The variable prometheus-client itself reads (the one setting not named after its field).
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: Settings never shown: masked by public_dict, left out of error messages.
SECRETS = frozenset({"admin_token", "secret_key", "jwt_secret"})
#: URL schemes each URL setting accepts.
URL_SCHEMES = {
    "database_url": ("sqlite", "postgres", "postgresql", "postgres+pool", "postgresql+pool"),
    "redis_url": ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"),
    "broker_url": ("redis", "rediss", "unix", "amqp", "amqps", "stub"),
    "jwt_jwks_url": ("https", "http"),
}
#: Text settings whose empty value means empty; for every other setting an empty variable is unset.
_EMPTY_MEANS_EMPTY = frozenset({"redis_prefix", "queue_prefix", "host", "log_level", "log_format", "identity_mode"})

#: Text settings with a shape: (regular expression the whole value matches, the rule in words).
_PATTERNS = {
    "queue_prefix": (r"[A-Za-z_][A-Za-z0-9._-]*",
                     "must start with a letter or '_' and hold only letters, digits, '.', '_' and '-' (Dramatiq's queue names)"),
    # A same-origin path (the page's Content-Security-Policy takes no other script): nothing
    # that could end the HTML attribute it is written into, or name another host.
    "ui_token_script": (r"/(?!/)[A-Za-z0-9._~!$&*+,;=:@%/?-]*", "must be a path on this origin, e.g. /auth/ticketdrop-token.js"),
}

#: The environment :meth:`Settings.from_env` is reading (None: keyword arguments only).
_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("ticketdrop_settings_environment", default=None)

Comma = Annotated[tuple[str, ...], NoDecode]


class _Environment(EnvSettingsSource):
    """The environment variables of the mapping given to ``from_env``, an empty one meaning unset."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env = env
        super().__init__(settings_cls, case_sensitive=False)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        keep = {METRICS_DIR_VARIABLE.lower(), *_EMPTY_MEANS_EMPTY}
        return {k.lower(): v for k, v in self._env.items() if v != "" or k.lower() in keep}


class Settings(BaseSettings):
    """Frozen configuration; build it with :meth:`from_env`, change it in tests with :meth:`with_`."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True, case_sensitive=False)

    database_url: str = Field(f"sqlite:///{VAR_DIR / 'ticketdrop.db'}", description="`sqlite:///path` or `postgres://user:pass@host:5432/db` (`postgres+pool://...?max_connections=N&timeout=10` pooled)")
    db_max_connections: int = Field(20, ge=1, description="database pool size per process")
    db_threads: int = Field(16, ge=1, description="threads running blocking database calls in each web process")
    hot_path: bool = Field(True, description="serve the waiting room's polls (status, progress) and joins below aiohttp's router, their answers written as bytes (web/hotpath.py: the same bytes, about a quarter less web CPU per status poll, a fifth per progress poll and a sixth per join); `false` sends them the usual way, as every other route, without a code change; see [The waiting room's hot path](#the-waiting-rooms-hot-path)")
    gc_gen0_threshold: int = Field(20_000, ge=0, description="container allocations between young-generation garbage collections in each web process (Python's own is 700; 0 keeps it), which also freezes what start-up made; see [Garbage collection](#garbage-collection)")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="`redis://`, `rediss://` or `unix://` (embedded under `make run`); a Redis Cluster as `redis+cluster://host:port,host:port,...` (`rediss+cluster://` for TLS; see [Redis Cluster](#redis-cluster))")
    redis_prefix: str = Field("td:", description="prefix of every key (several deployments can share one Redis)")
    broker_url: str = Field("", description="Dramatiq broker: a Redis URL, or `amqp://user:pass@host:5672/vhost` for RabbitMQ (required with a Redis Cluster); `stub://` in tests")
    queue_prefix: str = Field("", description="starts every Dramatiq queue name (`<prefix>reservations`, `<prefix>checkout`, `<prefix>system`), so deployments sharing a RabbitMQ vhost keep their queues apart")
    broker_quorum_queues: bool = Field(False, description="declare Dramatiq's RabbitMQ queues as quorum queues (a RabbitMQ cluster; see [deployment.md](deployment.md))")
    admin_token: str = Field("", description="bearer token for `/admin` routes")
    secret_key: str = Field("", description="HMAC key for tokens and QR signatures (>= 16 chars; the same value in every process)")
    host: str = Field("0.0.0.0", description="address the web process listens on")
    port: int = Field(8080, ge=0, le=65535, description="port the web process listens on")
    reuse_port: bool = Field(False, description="let several web processes share one port (SO_REUSEPORT)")
    cors_origins: Comma = Field((), description="comma-separated origins allowed to call the API from a browser with credentials; `*` allows any (`make run`: `http://localhost:5173,http://localhost:8080`)")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="larger bodies get 413 (a larger `Content-Length` before any byte is read)")
    body_read_timeout_s: float = Field(15.0, ge=0.1, description="a body that has not fully arrived this long after its headers gets 408, in seconds")
    hold_ttl_s: int = Field(180, ge=1, description="how long a granted hold lasts, in seconds")
    offer_ttl_s: int = Field(600, ge=1, description="how long a waitlist offer (a hold granted to the next fan in line) lasts, in seconds")
    self_cancel_window_s: int = Field(0, ge=0, description="seconds after purchase a fan may cancel an order (0 = off; an event's `self_cancel_window_s` overrides)")
    admission_ttl_s: int = Field(600, ge=1, description="how long an admitted fan may take to reserve, in seconds")
    token_ttl_s: int = Field(6 * 3600, ge=60, description="how long a waiting-room token stays valid, in seconds")
    wave_size: int = Field(100, ge=1, description="positions admitted per wave (events may override)")
    wave_interval_s: float = Field(5.0, ge=0.1, description="seconds between waves (events may override)")
    event_purchase_limit: int = Field(6, ge=1, description="tickets per user per event (live holds + paid orders)")
    idempotency_ttl_s: int = Field(24 * 3600, ge=60, description="how long Idempotency-Key records are kept, in seconds")
    sweep_interval_s: float = Field(30.0, ge=1.0, description="expiry & recovery sweep interval, in seconds")
    reserve_batch_size: int = Field(256, ge=1, le=5000, description="reservation requests decided per batch (1..5000)")
    rate_join_per_min: int = Field(30, ge=0, description="waiting-room joins per user per event per minute (0 disables)")
    rate_reserve_per_min: int = Field(20, ge=0, description="reservation requests per user per minute (0 disables)")
    rate_checkout_per_min: int = Field(30, ge=0, description="checkout requests per user per minute (0 disables)")
    rate_per_ip_per_min: int = Field(600, ge=0, description="per-client-address limit on the same routes, per minute; joins count per event, apart from reservations and checkouts (0 disables)")
    rate_check_timeout_s: float = Field(0.5, gt=0, description="a rate-limit check Redis has not answered in this long lets the request through (the limiter fails open), in seconds")
    rate_unknown_event_per_min: int = Field(60, ge=0, description="lookups of unknown event ids per client address, per minute and web process (0 disables); beyond it `429` with `Retry-After`, cached events still answered")
    trust_forwarded_for: bool = Field(False, description="use `X-Forwarded-For` as the client address (only behind your proxy)")
    log_level: str = Field("INFO", description="`DEBUG`, `INFO`, `WARNING`, `ERROR` (SQL statements are never logged, even at `DEBUG`: their parameters carry ticket secrets)")
    log_format: str = Field("json", description="`json` (one object per line) or `console` for humans (`make run` uses it)")
    metrics_dir: str = Field("", validation_alias=METRICS_DIR_VARIABLE, description="prometheus-client multiprocess directory (`./var/metrics` under `make run`; empty: single-process metrics)")
    actor_max_retries: int = Field(10, ge=0, description="Dramatiq retries before a message is dead-lettered")
    identity_mode: str = Field("demo", description="who a fan is: `demo` (self-asserted `X-User-Id`), `jwt` (signed bearer token), `proxy` (`X-User-Id` from your authenticating proxy); see [Fan identity](#fan-identity)")
    jwt_issuer: str = Field("", description="the exact `iss` a token must carry (required with `jwt`)")
    jwt_audience: str = Field("", description="the exact `aud` a token must carry (required with `jwt`)")
    jwt_algorithms: Comma = Field((), description="allowed `alg` values, comma-separated; only the key source's family (`none` never)")
    jwt_secret: str = Field("", description="HS256/384/512 key shared with the identity provider (>= 32 bytes); exactly one of this, `JWT_JWKS_FILE`, `JWT_JWKS_URL`")
    jwt_jwks_file: str = Field("", description="a file of the provider's public keys (JWKS) for RS/PS/ES tokens")
    jwt_jwks_url: str = Field("", description="the provider's public keys (JWKS) by URL; must be `https://` (plain `http://` only for a loopback host)")
    jwt_jwks_cache_s: int = Field(300, ge=10, description="how long JWKS keys are kept before they are read again, in seconds")
    jwt_leeway_s: int = Field(30, ge=0, le=300, description="clock skew allowed on `exp`/`nbf`/`iat`, in seconds (0..300)")
    ui_token_script: str = Field("", description="with `jwt`: a path on TicketDrop's own origin (your proxy sends it to your application) of a script the fan page loads first; it defines `window.TicketDrop.getToken()` (see [Fan identity](#fan-identity))")
    rotate_s: int = Field(15, ge=5, le=300, description="seconds per step of the rotating ticket codes (5..300)")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        env = _ENVIRONMENT.get()
        return (init_settings,) if env is None else (init_settings, _Environment(settings_cls, env))

    @field_validator("cors_origins", "jwt_algorithms", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return tuple(v.strip() for v in value.split(",") if v.strip()) if isinstance(value, str) else value

    @field_validator("database_url", "redis_url", "broker_url", "jwt_jwks_url")
    @classmethod
    def _scheme(cls, value: str, info: Any) -> str:
        schemes = URL_SCHEMES[info.field_name]
        if value and value.split(":", 1)[0].lower() not in schemes:
            raise ValueError(f"must start with one of: {', '.join(s + '://' for s in schemes)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value not in LOG_FORMATS:
            raise ValueError("must be 'json' or 'console'")
        return value

    @field_validator("identity_mode")
    @classmethod
    def _identity_mode(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in IDENTITY_MODES:
            raise ValueError(f"must be one of: {', '.join(IDENTITY_MODES)}")
        return value

    @field_validator(*_PATTERNS)
    @classmethod
    def _pattern(cls, value: str, info: Any) -> str:
        pattern, rule = _PATTERNS[info.field_name]
        if value and not re.fullmatch(pattern, value):
            raise ValueError(rule)
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: str) -> str:
        if value and len(value) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @model_validator(mode="after")
    def _combinations(self) -> Settings:
        """Settings that cannot work together refuse to start, naming the variable."""
        _check_identity(self)
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, require_secrets: bool = True) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); raises :class:`ConfigError` naming the variable.

        SECRET_KEY and ADMIN_TOKEN are required unless ``require_secrets`` is False (commands that
        neither sign nor serve: init-db, seed): a process must never invent a key that the other
        processes would need to share. ``make run`` keeps generated ones in var/secrets.env."""
        env = os.environ if env is None else env
        for name in ("SECRET_KEY", "ADMIN_TOKEN"):
            if require_secrets and not env.get(name):
                raise ConfigError(f"Setting {name} is missing: set the same value in every process of a deployment "
                                  f"(make run keeps a generated one in var/secrets.env)")
        if (env.get("REDIS_URL") or "").split(":", 1)[0].lower().endswith("+cluster") and \
                not (env.get("BROKER_URL") or "").lower().startswith(("amqp", "stub")):
            raise ConfigError(f"Setting REDIS_URL names a Redis Cluster, and Dramatiq's Redis broker cannot run on one: "
                              f"set BROKER_URL to RabbitMQ (amqp://user:password@host:5672/vhost); BROKER_URL is "
                              f"{'unset (it defaults to REDIS_URL)' if not env.get('BROKER_URL') else 'not amqp://'}")
        derived = {"broker_url": _defaulted(env, "REDIS_URL", cls.model_fields["redis_url"].default)}
        if "QUEUE_PREFIX" not in env:
            derived["queue_prefix"] = _queue_prefix_for(env.get("REDIS_PREFIX", cls.model_fields["redis_prefix"].default))
        if not env.get("JWT_ALGORITHMS") and (env.get("IDENTITY_MODE") or "").strip().lower() == "jwt":
            derived["jwt_algorithms"] = "HS256" if env.get("JWT_SECRET") else "RS256,ES256"
        token = _ENVIRONMENT.set({**{k.upper(): v for k, v in derived.items()}, **env})
        try:
            return cls()
        except ValidationError as exc:
            raise _config_error(exc) from None
        finally:
            _ENVIRONMENT.reset(token)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests use this; not validated again)."""
        return self.model_copy(update=changes)

    @property
    def secret_bytes(self) -> bytes:
        return self.secret_key.encode()

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to log: secrets masked."""
        return {name: ("***" if name in SECRETS else getattr(self, name)) for name in type(self).model_fields}


def variable(name: str) -> str:
    """The environment variable of the field ``name``."""
    alias = Settings.model_fields[name].validation_alias
    return alias if isinstance(alias, str) else name.upper()


def _defaulted(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name) or default


def _queue_prefix_for(redis_prefix: str) -> str:
    if redis_prefix == Settings.model_fields["redis_prefix"].default:
        return ""
    derived = re.sub(r"[^A-Za-z0-9._-]", ".", redis_prefix)
    return derived if not derived or derived[0].isalpha() else f"_{derived}"


def _config_error(exc: ValidationError) -> ConfigError:
    first = exc.errors(include_url=False)[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    name = variable(field) if field in Settings.model_fields else field.upper()
    message = first["msg"].removeprefix("Value error, ")
    shown = "" if field in SECRETS else f"={first.get('input')!r}"  # a secret is never echoed into a log
    return ConfigError(f"Setting {name}{shown} is not valid: {message}")


def _check_identity(s: Settings) -> None:
    """The identity settings; a mode that cannot work refuses to start, naming the variable."""
    url = s.jwt_jwks_url
    if url.lower().startswith("http://") and urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"Setting JWT_JWKS_URL={url!r} must be https:// (plain http only for a loopback host)")
    if s.identity_mode != "jwt":
        if s.ui_token_script:  # the page would send a bearer token where X-User-Id is expected
            raise ConfigError("Setting UI_TOKEN_SCRIPT is for IDENTITY_MODE=jwt only")
        return
    for name in ("jwt_issuer", "jwt_audience"):
        if not getattr(s, name):
            raise ConfigError(f"Setting {variable(name)} is required when IDENTITY_MODE=jwt")
    sources = [variable(n) for n in ("jwt_secret", "jwt_jwks_file", "jwt_jwks_url") if getattr(s, n)]
    if len(sources) != 1:
        raise ConfigError("Set exactly one of JWT_SECRET, JWT_JWKS_FILE, JWT_JWKS_URL when IDENTITY_MODE=jwt "
                          f"(got {', '.join(sources) or 'none'})")
    hmac_keyed = sources[0] == "JWT_SECRET"
    if hmac_keyed and len(s.jwt_secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"Setting JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
    allowed = HMAC_ALGORITHMS if hmac_keyed else KEY_ALGORITHMS
    # Mixing HMAC and public-key algorithms is the classic "verify RS256 as HS256 with the
    # public key" confusion: the key source decides the family.
    wrong = [a for a in s.jwt_algorithms if a not in allowed]
    if not s.jwt_algorithms or wrong:
        raise ConfigError(f"Setting JWT_ALGORITHMS={','.join(s.jwt_algorithms)!r} may only name {', '.join(sorted(allowed))} "
                          f"with {sources[0]}")


def run_process(main: Callable[[], int | None]) -> NoReturn:
    """Run a process's ``main`` and exit with its status. Settings that cannot work end it with
    one line naming the variable (exit status 2), not a traceback an operator has to read up."""
    try:
        status = main()
    except ConfigError as exc:
        print(f"ticketdrop: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(status)


def metrics_dir_from_env(env: Mapping[str, str] | None = None) -> str:
    """PROMETHEUS_MULTIPROC_DIR alone, for models/metrics.py, which needs it at import (before
    any process has built its settings): prometheus-client picks its storage when the first
    metric is made."""
    return (os.environ if env is None else env).get(METRICS_DIR_VARIABLE, "")


#: How the settings table shows a default that is not a plain value.
_SHOWN_DEFAULTS = {
    "database_url": "`sqlite:///./var/ticketdrop.db`",
    "broker_url": "`REDIS_URL`",
    "queue_prefix": "`REDIS_PREFIX` with `:` as `.` (empty for `td:`)",
    "admin_token": "required (`make run` generates one, kept in `var/secrets.env`)",
    "secret_key": "required (`make run` generates one, kept in `var/secrets.env`)",
    "jwt_algorithms": "`HS256` with a secret, `RS256,ES256` with a JWKS",
}
_KINDS = {str: "text", int: "integer", float: "number", bool: "true/false"}


def settings_table() -> Iterator[str]:
    """docs/operators.md's settings table, one Markdown row a setting (a unit test checks the
    document holds exactly these rows: ``python -m models.settings`` prints them)."""
    yield "| variable | type | default | meaning |"
    yield "|---|---|---|---|"
    for name, info in Settings.model_fields.items():
        default = info.default
        if name in _SHOWN_DEFAULTS:
            shown = _SHOWN_DEFAULTS[name]
        elif default in ("", ()):
            shown = "empty"
        else:
            shown = f"`{str(default).lower() if isinstance(default, bool) else default}`"
        kind = _KINDS.get(info.annotation, "comma-separated list")  # type: ignore[arg-type]
        yield f"| `{variable(name)}` | {kind} | {shown} | {info.description} |"


if __name__ == "__main__":
    print("\n".join(settings_table()))
