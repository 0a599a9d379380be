"""make drop-cluster's system (bench/drop/hosts.py): what each host's processes are given, and
what nginx's log says."""

from __future__ import annotations

from bench.drop.hosts import HostedSystem, edge_counts
from bench.drop.infra import Database
from bench.drop.network import NetworkPlan
from bench.drop.system import SystemOptions


def _system(tmp_path) -> HostedSystem:
    plan = NetworkPlan.for_drop(2, 2, tag="tdropab12")
    system = HostedSystem(SystemOptions(run_dir=tmp_path / "run", run_id="20261130abcdef"), plan, tmp_path / "work")
    system.database = Database("postgres://postgres:pw@10.88.0.40:5432/ticketdrop_drop_x")
    system.redis_url = "redis+cluster://10.88.0.40:7000,10.88.0.40:7001,10.88.0.40:7002"
    system.env = system._environment()
    return system


def test_each_process_binds_its_own_hosts_address_and_runs_there(tmp_path):
    system = _system(tmp_path)
    web = system._app("web-2", system.plan.host("web-2"), ["python", "-m", "web"])
    assert web.env["HOST"] == "10.88.0.12"
    assert web.argv[:4] == ["ip", "netns", "exec", "tdropab12-web-2"]
    assert web.env["PROMETHEUS_MULTIPROC_DIR"].startswith(str(tmp_path / "work" / "web-2"))


def test_processes_reach_the_stores_by_the_data_hosts_address_never_by_loopback_socket_or_var(tmp_path):
    env = _system(tmp_path).env
    assert env["BROKER_URL"].startswith("amqp://ticketdrop:") and env["BROKER_URL"].endswith("@10.88.0.40:5672/")
    assert "10.88.0.40" in env["DATABASE_URL"] and "10.88.0.40" in env["REDIS_URL"]
    for name, value in env.items():
        assert "127.0.0.1" not in value and "localhost" not in value and "unix://" not in value, name


def test_secrets_are_handed_over_in_the_environment_and_differ_per_run(tmp_path):
    a, b = _system(tmp_path / "a"), _system(tmp_path / "b")
    for key in ("SECRET_KEY", "ADMIN_TOKEN"):
        assert len(a.env[key]) >= 16 and a.env[key] != b.env[key]
    assert a.amqp_password in a.env["BROKER_URL"] and a.amqp_password != b.amqp_password


def test_fans_reach_the_system_through_the_edge_hosts_one_address(tmp_path):
    assert _system(tmp_path).base_url == "http://10.88.0.3:8080"


def test_nginx_access_log_counts_polls_and_those_its_cache_answered():
    log = [
        '10.88.0.2 [30/Nov/2026:02:00:00 +0000] "GET /events/ab-12/waiting-room/status" 200 90 cache=HIT upstream=-',
        '10.88.0.2 [30/Nov/2026:02:00:00 +0000] "GET /events/ab-12/waiting-room/status" 200 90 cache=MISS upstream=10.88.0.11:8080',
        '10.88.0.2 [30/Nov/2026:02:00:00 +0000] "GET /events/ab-12/waiting-room/progress" 200 90 cache=UPDATING upstream=-',
        '10.88.0.2 [30/Nov/2026:02:00:00 +0000] "POST /events/ab-12/reservations" 202 50 cache=- upstream=10.88.0.12:8080',
        'garbage',
    ]
    assert edge_counts(log) == {"requests": 4, "polls": 3, "polls_from_cache": 2}
