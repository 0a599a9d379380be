"""The launcher keeps local secrets across restarts, the embedded Redis really runs, and Ctrl-C
leaves no process of the run behind, however often it is pressed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
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


#: A stand-in for honcho stuck while starting services: it ignores Ctrl-C and SIGTERM, and its
#: "service" (own session, as honcho starts them) ignores them too; it prints the service's pid.
STUCK_HONCHO = """
import signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN)
service = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"],
                           start_new_session=True)
print(service.pid, flush=True)
time.sleep(60)
"""


def _stuck_honcho() -> tuple[subprocess.Popen, int]:
    honcho = subprocess.Popen([sys.executable, "-c", STUCK_HONCHO], stdout=subprocess.PIPE, text=True, start_new_session=True)
    return honcho, int(honcho.stdout.readline())


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def ctrl_c_interrupts():
    """Ctrl-C (SIGINT) raises KeyboardInterrupt here, as in a terminal, whatever the run inherited:
    a shell starts a background job with SIGINT ignored, and Python then keeps ignoring it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_second_ctrl_c_while_the_services_stop_kills_every_process_of_the_run_and_returns(ctrl_c_interrupts):
    honcho, service = _stuck_honcho()
    ctrl_c = lambda: os.kill(os.getpid(), signal.SIGINT)  # noqa: E731
    timers = [threading.Timer(0.2, ctrl_c), threading.Timer(0.6, ctrl_c)]
    started = time.monotonic()
    try:
        for timer in timers:
            timer.start()
        try:
            status = cli.supervise(honcho, graceful_stop_s=30)
        except KeyboardInterrupt:
            pytest.fail("the second Ctrl-C escaped the launcher while its services were still running")
        assert status == 130 and time.monotonic() - started < 10
        assert honcho.poll() is not None and _gone(service)
    finally:
        for timer in timers:
            timer.cancel()
        cli.kill_tree(honcho.pid)
        cli.kill_tree(service)


def test_services_that_do_not_stop_after_one_ctrl_c_are_killed_after_the_grace_period(ctrl_c_interrupts):
    honcho, service = _stuck_honcho()
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    try:
        timer.start()
        assert cli.supervise(honcho, graceful_stop_s=0.5) == 130
        assert _gone(service)
    finally:
        timer.cancel()
        cli.kill_tree(honcho.pid)
        cli.kill_tree(service)
