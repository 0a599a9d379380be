"""The launcher keeps local secrets across restarts and the embedded Redis really runs."""

from __future__ import annotations

import redis as redis_lib

from models.settings import Settings
from ticketdrop import cli, embedded_redis


def test_local_secrets_are_made_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "SECRETS_FILE", tmp_path / "secrets.env")
    monkeypatch.setattr(cli, "VAR_DIR", tmp_path)
    first = cli._load_or_make_secrets()
    second = cli._load_or_make_secrets()
    assert first == second
    assert len(first["ADMIN_TOKEN"]) >= 24 and len(first["SECRET_KEY"]) >= 32
    assert oct((tmp_path / "secrets.env").stat().st_mode & 0o777) == "0o600"


def test_a_local_run_starts_on_a_fresh_machine_with_kept_secrets_and_local_origins(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "SECRETS_FILE", tmp_path / "secrets.env")
    monkeypatch.setattr(cli, "VAR_DIR", tmp_path)
    settings = Settings.from_env(cli.embedded_env({}))  # refuses without SECRET_KEY / ADMIN_TOKEN
    assert settings.secret_key == cli._load_or_make_secrets()["SECRET_KEY"]
    assert "http://localhost:8080" in settings.cors_origins


def test_a_deployment_keeps_its_own_secrets_and_origins(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "SECRETS_FILE", tmp_path / "secrets.env")
    monkeypatch.setattr(cli, "VAR_DIR", tmp_path)
    env = cli.embedded_env({"SECRET_KEY": "s" * 32, "ADMIN_TOKEN": "mine", "CORS_ORIGINS": "https://shop.example"})
    assert (env["SECRET_KEY"], env["ADMIN_TOKEN"], env["CORS_ORIGINS"]) == ("s" * 32, "mine", "https://shop.example")


def test_the_embedded_redis_server_answers_and_runs_lua(tmp_path):
    proc, url = embedded_redis.start(tmp_path / "r.sock")
    try:
        client = redis_lib.Redis.from_url(url)
        assert client.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1, "k", 5) == 5
    finally:
        proc.terminate()
        proc.wait(timeout=10)
