"""Hosts on a real network inside one machine: Linux network namespaces joined by veth links to
one bridge, for ``make drop-cluster`` (bench/drop/hosts.py).

The plan is pure data (names, addresses and the ``ip`` commands that make and remove it), so
it is tested without root. :class:`Network` runs it: ``up()`` makes every namespace and link,
``down()`` kills whatever still runs in them and deletes them, links included (a veth end dies
with its namespace; the bridge lives in a namespace of its own, so nothing is ever left in the
machine's own namespace).

No namespace has a default route: an address outside the subnet is unreachable from every
host. Each host has its own loopback, as a real machine does (pika's in-process wake-up socket
pair needs it, RabbitMQ's epmd too): a process that used 127.0.0.1 would find only its own
host there, never another host's server.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
from dataclasses import asdict, dataclass, field

log = logging.getLogger("bench.drop")

#: The hosts' subnet (a /24; host N is SUBNET.N). Reached only inside the namespaces.
SUBNET = "10.88.0"
#: Every namespace of a run is named ``<tag>-<host>``; tags start with this.
TAG_PREFIX = "tdrop"
#: The bridge's name inside the switch namespace.
BRIDGE = "br0"
#: The host side of each link (every host calls its one interface this).
HOST_IFACE = "eth0"


@dataclass(frozen=True)
class Host:
    """One machine: a namespace with one interface on the subnet."""

    name: str
    namespace: str
    address: str

    @property
    def port(self) -> str:
        """The switch side of this host's link (interface names are at most 15 characters)."""
        return "p-" + self.name.replace("-", "")[:13]

    def exec(self, argv: list[str]) -> list[str]:
        """``argv`` run on this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]


@dataclass(frozen=True)
class NetworkPlan:
    tag: str
    hosts: tuple[Host, ...]
    subnet: str = SUBNET

    @classmethod
    def for_drop(cls, web: int, workers: int, tag: str | None = None) -> NetworkPlan:
        """The drop's hosts: load (the simulator), edge (nginx), web-1..N, worker-1..M, scheduler, data."""
        if not 1 <= web <= 9 or not 1 <= workers <= 9:
            raise ValueError("--web and --workers count hosts here: 1 to 9 of each")
        tag = tag or TAG_PREFIX + secrets.token_hex(2)
        specs = [("load", 2), ("edge", 3)]
        specs += [(f"web-{i}", 10 + i) for i in range(1, web + 1)]
        specs += [(f"worker-{i}", 20 + i) for i in range(1, workers + 1)]
        specs += [("scheduler", 30), ("data", 40)]
        hosts = tuple(Host(name, f"{tag}-{name}", f"{SUBNET}.{n}") for name, n in specs)
        return cls(tag, hosts)

    @property
    def switch(self) -> str:
        """The namespace that holds the bridge."""
        return f"{self.tag}-switch"

    @property
    def namespaces(self) -> list[str]:
        return [*(h.namespace for h in self.hosts), self.switch]

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def group(self, prefix: str) -> list[Host]:
        """Hosts named ``<prefix>-N``, in order."""
        return [h for h in self.hosts if h.name.startswith(prefix + "-")]

    def up_commands(self) -> list[list[str]]:
        """Every ``ip`` command that builds the network, in order."""
        sw = self.switch
        cmds = [["ip", "netns", "add", ns] for ns in self.namespaces]
        cmds += [["ip", "-n", sw, "link", "add", BRIDGE, "type", "bridge"], ["ip", "-n", sw, "link", "set", BRIDGE, "up"]]
        for h in self.hosts:
            cmds += [
                ["ip", "-n", sw, "link", "add", h.port, "type", "veth", "peer", "name", HOST_IFACE, "netns", h.namespace],
                ["ip", "-n", sw, "link", "set", h.port, "master", BRIDGE],
                ["ip", "-n", sw, "link", "set", h.port, "up"],
                ["ip", "-n", h.namespace, "addr", "add", f"{h.address}/24", "dev", HOST_IFACE],
                ["ip", "-n", h.namespace, "link", "set", HOST_IFACE, "up"],
                ["ip", "-n", h.namespace, "link", "set", "lo", "up"],
            ]
        return cmds

    def down_commands(self) -> list[list[str]]:
        """The commands that remove the network (after the processes in it are killed): one
        ``ip netns delete`` per namespace, hosts first, the switch last."""
        return [["ip", "netns", "delete", ns] for ns in self.namespaces]

    def to_json(self) -> str:
        return json.dumps({"tag": self.tag, "subnet": self.subnet, "hosts": [asdict(h) for h in self.hosts]})

    @classmethod
    def from_json(cls, text: str) -> NetworkPlan:
        data = json.loads(text)
        return cls(data["tag"], tuple(Host(**h) for h in data["hosts"]), data["subnet"])


@dataclass
class Network:
    """Makes and removes a :class:`NetworkPlan` (root only)."""

    plan: NetworkPlan
    made: list[str] = field(default_factory=list)

    def up(self) -> None:
        """Build every namespace and link; on any failure, remove what was made and raise RuntimeError."""
        try:
            for cmd in self.plan.up_commands():
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
                if done.returncode != 0:
                    raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
                if cmd[:3] == ["ip", "netns", "add"]:
                    self.made.append(cmd[3])
        except BaseException:
            self.down()
            raise

    def down(self) -> list[str]:
        """Kill every process left in the run's namespaces, delete them; returns what was deleted.

        Safe to call twice, and after a partial ``up()``."""
        removed = []
        for ns in [n for n in self.plan.namespaces if n in self.made or n in existing_namespaces()]:
            kill_namespace_processes(ns)
            done = subprocess.run(["ip", "netns", "delete", ns], capture_output=True, text=True, timeout=30)
            if done.returncode == 0:
                removed.append(ns)
            else:
                log.warning("could not delete namespace %s: %s", ns, done.stderr.strip())
        self.made = [n for n in self.made if n not in removed]
        return removed


def existing_namespaces() -> list[str]:
    """Names of the machine's network namespaces (``ip netns list``)."""
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def kill_namespace_processes(ns: str) -> list[int]:
    """SIGKILL every process inside namespace ``ns`` (a namespace with processes outlives its
    deletion); returns their PIDs."""
    done = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=30)
    pids = [int(p) for p in done.stdout.split() if p.isdigit() and int(p) != os.getpid()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


def can_make_namespaces() -> str | None:
    """None when this process may make network namespaces, else why not."""
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    try:
        done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        return "the ip command is missing (Debian: apt-get install iproute2)"
    if done.returncode != 0:
        return f"ip netns does not work here: {done.stderr.strip()}"
    return None
