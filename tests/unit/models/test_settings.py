"""Settings come from the environment, carry units, and name the variable when wrong."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from models.errors import ConfigError
from models.settings import ROOT, Settings

#: The two variables every process of a deployment must share.
SECRETS = {"SECRET_KEY": "k" * 32, "ADMIN_TOKEN": "admin-token"}


def test_defaults_work_on_a_fresh_machine():
    s = Settings.from_env(SECRETS)
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/ticketdrop.db")
    assert s.port == 8080
    assert s.hold_ttl_s == 180 and s.admission_ttl_s == 600 and s.event_purchase_limit == 6
    assert s.broker_url == s.redis_url


@pytest.mark.parametrize("name", ["SECRET_KEY", "ADMIN_TOKEN"])
@pytest.mark.parametrize("missing", [None, ""])
def test_a_process_refuses_to_start_without_a_shared_secret_naming_it(name, missing):
    env = {k: v for k, v in SECRETS.items() if k != name}
    if missing is not None:
        env[name] = missing
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert name in str(info.value)


def test_commands_that_neither_sign_nor_serve_need_no_secrets():
    s = Settings.from_env({}, require_secrets=False)
    assert s.secret_key == "" and s.admin_token == ""


def test_no_cross_origin_caller_is_allowed_unless_configured():
    assert Settings.from_env(SECRETS).cors_origins == ()
    assert Settings.from_env({**SECRETS, "CORS_ORIGINS": "https://a.example, https://b.example"}).cors_origins == (
        "https://a.example", "https://b.example")


def test_the_broker_follows_redis_unless_set():
    s = Settings.from_env({**SECRETS, "REDIS_URL": "redis://h:1/2"})
    assert s.broker_url == "redis://h:1/2"
    s = Settings.from_env({**SECRETS, "REDIS_URL": "redis://h:1/2", "BROKER_URL": "amqp://guest:guest@h:5672/"})
    assert s.broker_url.startswith("amqp://")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HOLD_TTL_S", "abc"),
        ("HOLD_TTL_S", "0"),
        ("PORT", "70000"),
        ("WAVE_INTERVAL_S", "fast"),
        ("REUSE_PORT", "maybe"),
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://x"),
        ("BROKER_URL", "kafka://x"),
        ("LOG_FORMAT", "xml"),
        ("SECRET_KEY", "short"),
        ("SECRET_KEY", ""),
        ("BODY_READ_TIMEOUT_S", "0"),
    ],
)
def test_a_bad_value_fails_fast_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**SECRETS, name: value})
    assert name in str(info.value)


def test_public_dict_masks_secrets():
    s = Settings.from_env({"ADMIN_TOKEN": "super-secret-token", "SECRET_KEY": "x" * 32})
    shown = s.public_dict()
    assert shown["admin_token"] == "***" and shown["secret_key"] == "***"
    assert "super-secret-token" not in repr(shown)


_JWT = {**SECRETS, "IDENTITY_MODE": "jwt", "JWT_ISSUER": "https://id.example", "JWT_AUDIENCE": "ticketdrop"}


@pytest.mark.parametrize(
    "env,named",
    [
        ({**SECRETS, "IDENTITY_MODE": "trust-me"}, "IDENTITY_MODE"),
        ({**_JWT, "JWT_ISSUER": ""}, "JWT_ISSUER"),
        ({**_JWT, "JWT_AUDIENCE": ""}, "JWT_AUDIENCE"),
        (_JWT, "JWT_SECRET, JWT_JWKS_FILE, JWT_JWKS_URL"),
        ({**_JWT, "JWT_SECRET": "x" * 32, "JWT_JWKS_FILE": "/etc/jwks.json"}, "JWT_JWKS_FILE"),
        ({**_JWT, "JWT_SECRET": "too-short"}, "JWT_SECRET"),
        ({**_JWT, "JWT_SECRET": "x" * 32, "JWT_ALGORITHMS": "RS256"}, "JWT_ALGORITHMS"),
        ({**_JWT, "JWT_JWKS_FILE": "/etc/jwks.json", "JWT_ALGORITHMS": "HS256"}, "JWT_ALGORITHMS"),
        ({**_JWT, "JWT_JWKS_FILE": "/etc/jwks.json", "JWT_ALGORITHMS": "none"}, "JWT_ALGORITHMS"),
        ({**_JWT, "JWT_JWKS_URL": "http://idp.example/jwks"}, "JWT_JWKS_URL"),
        ({**SECRETS, "ROTATE_S": "1"}, "ROTATE_S"),
        ({**_JWT, "JWT_SECRET": "x" * 32, "UI_TOKEN_SCRIPT": "https://idp.example/token.js"}, "UI_TOKEN_SCRIPT"),
        ({**_JWT, "JWT_SECRET": "x" * 32, "UI_TOKEN_SCRIPT": "//idp.example/token.js"}, "UI_TOKEN_SCRIPT"),
        ({**_JWT, "JWT_SECRET": "x" * 32, "UI_TOKEN_SCRIPT": '/t.js"><script>alert(1)</script>'}, "UI_TOKEN_SCRIPT"),
        ({**SECRETS, "UI_TOKEN_SCRIPT": "/auth/token.js"}, "UI_TOKEN_SCRIPT"),  # demo mode: the page would send no X-User-Id
    ],
)
def test_an_identity_setup_that_cannot_work_refuses_to_start_naming_the_variable(env, named):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert named in str(info.value)


def test_jwt_mode_defaults_its_algorithms_to_the_key_source_and_masks_the_secret():
    hs = Settings.from_env({**_JWT, "JWT_SECRET": "s" * 32})
    assert hs.jwt_algorithms == ("HS256",) and hs.public_dict()["jwt_secret"] == "***"
    keyed = Settings.from_env({**_JWT, "JWT_JWKS_URL": "https://id.example/.well-known/jwks.json"})
    assert keyed.jwt_algorithms == ("RS256", "ES256")
    assert Settings.from_env(SECRETS).identity_mode == "demo"


def test_a_refused_secret_is_named_but_never_echoed():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**SECRETS, "SECRET_KEY": "hunter2-short"})
    assert "SECRET_KEY" in str(info.value) and "hunter2" not in str(info.value)


@pytest.mark.parametrize("command", [["web"], ["workers"], ["scheduler"], ["ticketdrop", "sweep"]])
def test_every_process_refuses_a_setting_that_cannot_work_in_one_line_naming_it(command):
    env = {"PATH": os.environ["PATH"], **SECRETS, "IDENTITY_MODE": "jwt", "REDIS_PREFIX": "never-used:"}
    done = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (2, "ticketdrop: Setting JWT_ISSUER is required when IDENTITY_MODE=jwt\n")
