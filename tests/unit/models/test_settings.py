"""Settings come from the environment, carry units, and name the variable when wrong."""

from __future__ import annotations

import pytest

from models.errors import ConfigError
from models.settings import Settings


def test_defaults_work_on_a_fresh_machine():
    s = Settings.from_env({})
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/ticketdrop.db")
    assert s.port == 8080
    assert s.hold_ttl_s == 180 and s.admission_ttl_s == 600 and s.event_purchase_limit == 6
    assert s.broker_url == s.redis_url


def test_missing_secrets_are_filled_with_random_unguessable_values():
    a, b = Settings.from_env({}), Settings.from_env({})
    assert a.admin_token != b.admin_token and len(a.admin_token) >= 24
    assert a.secret_key != b.secret_key and len(a.secret_key) >= 32


def test_the_broker_follows_redis_unless_set():
    s = Settings.from_env({"REDIS_URL": "redis://h:1/2"})
    assert s.broker_url == "redis://h:1/2"
    s = Settings.from_env({"REDIS_URL": "redis://h:1/2", "BROKER_URL": "amqp://guest:guest@h:5672/"})
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
        ("BODY_READ_TIMEOUT_S", "0"),
    ],
)
def test_a_bad_value_fails_fast_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert name in str(info.value)


def test_public_dict_masks_secrets():
    s = Settings.from_env({"ADMIN_TOKEN": "super-secret-token", "SECRET_KEY": "x" * 32})
    shown = s.public_dict()
    assert shown["admin_token"] == "***" and shown["secret_key"] == "***"
    assert "super-secret-token" not in repr(shown)
