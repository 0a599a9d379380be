"""A real Redis Cluster of three masters from the machine's ``redis-server`` (Debian's package),
on free local ports in a temporary directory: started by ``LocalRedisCluster.start()``, removed
by ``stop()``. Used by the cluster tests' fixture, by ``make drop-cluster`` (its nodes on the
data host: given ``host``, ``ports``, ``launcher`` and ``parent``) and runnable by hand:

    .venv/bin/python -m tests.integration.cluster.servers   # prints the REDIS_URL; Ctrl-C or SIGTERM stops it
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Masters in the cluster (Redis Cluster needs at least three).
MASTERS = 3
#: Longest wait for the nodes to listen and the cluster to report ok, in seconds.
START_TIMEOUT_S = 30
#: A node's cluster bus listens on its port + this (fixed by Redis).
BUS_PORT_OFFSET = 10000


def free_port() -> int:
    """A free local port whose cluster-bus port (port + 10000) is free too."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + BUS_PORT_OFFSET > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + BUS_PORT_OFFSET))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


@dataclass
class LocalRedisCluster:
    host: str = "127.0.0.1"
    masters: int = MASTERS
    ports: list[int] = field(default_factory=list)
    workdir: Path | None = None
    #: Put before each redis-server command line (``ip netns exec NS`` starts the nodes on another host).
    launcher: list[str] = field(default_factory=list)
    #: Make the temporary directory in here (default: the system's).
    parent: Path | None = None
    _procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``redis+cluster://host:port,host:port,...`` (TicketDrop's REDIS_URL for a cluster)."""
        return "redis+cluster://" + ",".join(f"{self.host}:{p}" for p in self.ports)

    def start(self) -> LocalRedisCluster:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if not server or not cli:
            raise FileNotFoundError("redis-server and redis-cli are needed (Debian: apt-get install redis-server)")
        self.workdir = Path(tempfile.mkdtemp(prefix="td-redis-cluster-", dir=self.parent))
        try:
            self.ports = self.ports or [free_port() for _ in range(self.masters)]
            for port in self.ports:
                self._procs.append(self._start_node(server, port))
            for port in self.ports:
                self._wait_listening(port)
            subprocess.run([cli, "--cluster", "create", *(f"{self.host}:{p}" for p in self.ports),
                            "--cluster-replicas", "0", "--cluster-yes"],
                           check=True, capture_output=True, timeout=START_TIMEOUT_S)
            self._wait_ok(cli)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, server: str, port: int) -> subprocess.Popen:
        node_dir = self.workdir / str(port)
        node_dir.mkdir()
        log = open(node_dir / "redis.log", "wb")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            [*self.launcher, server, "--port", str(port), "--bind", self.host, "--cluster-enabled", "yes",
             "--cluster-config-file", str(node_dir / "nodes.conf"), "--cluster-node-timeout", "5000",
             "--dir", str(node_dir), "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=log, stderr=subprocess.STDOUT, cwd=node_dir)

    def _wait_listening(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                socket.create_connection((self.host, port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline or any(p.poll() is not None for p in self._procs):
                    raise RuntimeError(f"redis-server on port {port} did not start (logs in {self.workdir})") from None
                time.sleep(0.05)

    def _wait_ok(self, cli: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            states = [subprocess.run([cli, "-h", self.host, "-p", str(p), "cluster", "info"], capture_output=True,
                                     text=True, timeout=5).stdout for p in self.ports]
            if all("cluster_state:ok" in s for s in states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not reach cluster_state:ok: {states}")
            time.sleep(0.1)

    @property
    def pids(self) -> list[int]:
        """The nodes' process ids (to measure their CPU)."""
        return [p.pid for p in self._procs]

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


if __name__ == "__main__":
    import signal

    # SIGTERM (kill, a script's trap) stops the nodes as Ctrl-C does; a background job of a
    # script ignores SIGINT, so SIGTERM is how bench/cluster_joins.sh ends it.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    cluster = LocalRedisCluster().start()
    print(f"REDIS_URL={cluster.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
