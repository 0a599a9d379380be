"""Two hosts on a real network (bench/drop/network.py, what ``make drop-cluster`` builds its nine
hosts with): network namespaces, veth links and a bridge, made and removed for each test.

Needs root and iproute2's ``ip``: without them the machine cannot make namespaces and the tests
skip, under CI=true too (CI runs as root, so there they run). With both, a network that cannot
be built skips locally (a container without CAP_NET_ADMIN) and fails under CI=true.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time

import pytest

from bench.drop.network import Host, Network, NetworkPlan, can_make_namespaces, existing_namespaces
from tests.integration.conftest import require

pytestmark = pytest.mark.integration

PORT = 9000
_PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
    print("connected")
except OSError as exc:
    print(type(exc).__name__, exc.errno)
"""


@pytest.fixture
def hosts():
    why = can_make_namespaces()
    if why:
        pytest.skip(why)
    tag = "tdtest" + secrets.token_hex(2)
    plan = NetworkPlan(tag, (Host("a", f"{tag}-a", "10.88.0.2"), Host("b", f"{tag}-b", "10.88.0.3")))
    network = Network(plan)
    require("network namespaces (ip netns, veth, bridge)", network.up)
    yield plan, network
    network.down()


def _probe(host: Host, address: str, port: int) -> str:
    done = subprocess.run(host.exec([sys.executable, "-c", _PROBE, address, str(port)]), capture_output=True, text=True,
                          timeout=30)
    return done.stdout.strip() or done.stderr


@pytest.fixture
def server(hosts):
    """A TCP server on host a, bound to a's address."""
    plan, _ = hosts
    a = plan.host("a")
    proc = subprocess.Popen(a.exec([sys.executable, "-m", "http.server", str(PORT), "--bind", a.address]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if _probe(plan.host("b"), a.address, PORT) == "connected":
            break
    yield a
    proc.kill()
    proc.wait()


def test_a_server_on_one_host_answers_another_host_over_the_link(hosts, server):
    plan, _ = hosts
    assert _probe(plan.host("b"), server.address, PORT) == "connected"


def test_a_hosts_loopback_is_its_own_neither_the_other_hosts_nor_the_machines(hosts, server):
    plan, _ = hosts
    b = plan.host("b")
    assert _probe(b, "127.0.0.1", PORT) == "ConnectionRefusedError 111"  # a's server is not on b's loopback
    assert _probe(b, "127.0.0.1", 5432) == "ConnectionRefusedError 111"  # nor is the machine's PostgreSQL


def test_an_address_outside_the_subnet_is_unreachable_nothing_leaves_the_bridge(hosts):
    plan, _ = hosts
    assert _probe(plan.host("b"), "10.88.1.1", 80) == "OSError 101"  # ENETUNREACH: no route, no packet


def test_removing_the_network_ends_what_runs_in_it_and_leaves_no_namespace(hosts):
    plan, network = hosts
    proc = subprocess.Popen(plan.host("a").exec(["sleep", "300"]))
    for _ in range(100):  # until ip has entered the namespace and become sleep
        if str(proc.pid) in subprocess.run(["ip", "netns", "pids", plan.host("a").namespace], capture_output=True,
                                           text=True).stdout.split():
            break
        time.sleep(0.05)
    removed = network.down()
    assert removed == plan.namespaces
    assert proc.wait(timeout=10) == -9
    assert not [ns for ns in existing_namespaces() if ns.startswith(plan.tag)]
