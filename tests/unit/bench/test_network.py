"""The namespace plan of ``make drop-cluster`` (bench/drop/network.py): names, addresses, commands."""

from __future__ import annotations

import ipaddress
from unittest import mock

import pytest

from bench.drop import network
from bench.drop.network import HOST_IFACE, Host, Network, NetworkPlan


def _plan(web: int = 2, workers: int = 2) -> NetworkPlan:
    return NetworkPlan.for_drop(web, workers, tag="tdropab12")


def test_the_drop_has_a_host_for_the_load_the_edge_each_web_and_worker_process_the_scheduler_and_the_data():
    assert [h.name for h in _plan(3, 2).hosts] == ["load", "edge", "web-1", "web-2", "web-3", "worker-1", "worker-2",
                                                     "scheduler", "data"]


def test_every_host_has_its_own_namespace_and_address_in_the_subnet():
    hosts = _plan(9, 9).hosts
    subnet = ipaddress.ip_network(f"{network.SUBNET}.0/24")
    assert len({h.namespace for h in hosts}) == len({h.address for h in hosts}) == len(hosts)
    assert all(ipaddress.ip_address(h.address) in subnet for h in hosts)
    assert all(h.address not in (f"{network.SUBNET}.0", f"{network.SUBNET}.255") for h in hosts)
    assert all(h.namespace.startswith("tdropab12-") for h in hosts)


def test_interface_names_fit_the_kernels_fifteen_characters():
    assert all(len(h.port) <= 15 for h in _plan(9, 9).hosts)
    assert len({h.port for h in _plan(9, 9).hosts}) == len(_plan(9, 9).hosts)


def test_a_fresh_tag_per_run_keeps_two_runs_apart():
    a, b = NetworkPlan.for_drop(1, 1), NetworkPlan.for_drop(1, 1)
    assert a.tag.startswith(network.TAG_PREFIX) and a.tag != b.tag
    assert not set(a.namespaces) & set(b.namespaces)


@pytest.mark.parametrize("web, workers", [(0, 1), (1, 0), (10, 1), (1, 10)])
def test_host_counts_outside_one_to_nine_are_refused(web, workers):
    with pytest.raises(ValueError, match="1 to 9"):
        NetworkPlan.for_drop(web, workers)


def test_the_network_is_made_of_namespaces_a_bridge_and_one_veth_link_per_host():
    plan = _plan(1, 1)
    cmds = plan.up_commands()
    assert cmds[:len(plan.namespaces)] == [["ip", "netns", "add", ns] for ns in plan.namespaces]
    assert ["ip", "-n", "tdropab12-switch", "link", "add", "br0", "type", "bridge"] in cmds
    web = plan.host("web-1")
    assert ["ip", "-n", "tdropab12-switch", "link", "add", "p-web1", "type", "veth", "peer", "name", HOST_IFACE,
            "netns", "tdropab12-web-1"] in cmds
    assert ["ip", "-n", "tdropab12-switch", "link", "set", "p-web1", "master", "br0"] in cmds
    assert ["ip", "-n", web.namespace, "addr", "add", f"{web.address}/24", "dev", HOST_IFACE] in cmds
    assert ["ip", "-n", web.namespace, "link", "set", "lo", "up"] in cmds


def test_nothing_is_made_in_the_machines_own_namespace_and_no_host_gets_a_route_out():
    for cmd in _plan().up_commands():
        assert cmd[:3] == ["ip", "netns", "add"] or cmd[1] == "-n", cmd
        assert "route" not in cmd and "default" not in cmd


def test_removing_the_network_deletes_every_namespace_hosts_first_and_the_switch_last():
    plan = _plan()
    assert plan.down_commands() == [["ip", "netns", "delete", ns] for ns in plan.namespaces]
    assert plan.namespaces[-1] == plan.switch


def test_a_host_runs_a_command_through_ip_netns_exec():
    assert Host("web-1", "tdropab12-web-1", "10.88.0.11").exec(["python", "-m", "web"]) == [
        "ip", "netns", "exec", "tdropab12-web-1", "python", "-m", "web"]


def test_the_plan_travels_to_the_load_host_as_json():
    plan = _plan(3, 1)
    assert NetworkPlan.from_json(plan.to_json()) == plan


def _fake_ip(existing: list[str], pids: dict[str, list[int]], fail_on: str | None = None):
    calls = []

    def run(cmd, **_):
        calls.append(cmd)
        out, code = "", 0
        if cmd[:3] == ["ip", "netns", "list"]:
            out = "".join(f"{ns} (id: {i})\n" for i, ns in enumerate(existing))
        elif cmd[:3] == ["ip", "netns", "pids"]:
            out = "".join(f"{p}\n" for p in pids.get(cmd[3], []))
        elif cmd[:3] == ["ip", "netns", "add"]:
            existing.append(cmd[3])
        elif cmd[:3] == ["ip", "netns", "delete"]:
            existing.remove(cmd[3])
        if fail_on and fail_on in cmd:
            code = 2
        return mock.Mock(returncode=code, stdout=out, stderr="boom" if code else "")

    return run, calls


def test_removing_the_network_kills_what_still_runs_in_each_namespace_before_deleting_it():
    plan = _plan(1, 1)
    existing: list[str] = []
    run, calls = _fake_ip(existing, {"tdropab12-data": [4242, 4343]})
    net = Network(plan)
    with mock.patch.object(network.subprocess, "run", run), mock.patch.object(network.os, "kill") as kill:
        net.up()
        assert existing == plan.namespaces
        removed = net.down()
    assert removed == plan.namespaces and existing == []
    assert sorted(c.args[0] for c in kill.call_args_list) == [4242, 4343]
    data_pids = calls.index(["ip", "netns", "pids", "tdropab12-data"])
    assert data_pids < calls.index(["ip", "netns", "delete", "tdropab12-data"])


def test_a_failure_halfway_through_building_removes_what_was_made_and_says_which_command_failed():
    plan = _plan(1, 1)
    existing: list[str] = []
    run, _ = _fake_ip(existing, {}, fail_on="p-web1")
    with mock.patch.object(network.subprocess, "run", run), mock.patch.object(network.os, "kill"):
        with pytest.raises(RuntimeError, match="p-web1.*boom"):
            Network(plan).up()
    assert existing == []


def test_removing_twice_is_harmless():
    plan = _plan(1, 1)
    existing: list[str] = []
    run, _ = _fake_ip(existing, {})
    net = Network(plan)
    with mock.patch.object(network.subprocess, "run", run), mock.patch.object(network.os, "kill"):
        net.up()
        net.down()
        assert net.down() == []


def test_namespaces_need_root(monkeypatch):
    monkeypatch.setattr(network.os, "geteuid", lambda: 1000)
    assert network.can_make_namespaces() == "making network namespaces needs root"

