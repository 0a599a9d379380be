"""``python -m bench.drop.hosts [drop options]`` (``make drop-cluster``): the drop of ``make drop``
with every process on its own host.

Run as root, it builds a network of namespaces (bench/drop/network.py): ``load`` (this simulator,
which also plays the operator: init-db, verify), ``edge`` (nginx, deploy/nginx/ticketdrop.conf,
the one address fans use), ``web-1..N`` (one ``python -m web`` each), ``worker-1..M`` (one dramatiq
process each), ``scheduler`` and ``data`` (its own PostgreSQL made by initdb in a temporary
directory, a Redis Cluster of three masters, its own RabbitMQ node). It then runs the drop from
the load host and removes the whole network when the drop ends, fails or is interrupted
(Ctrl-C, SIGTERM).

Every process binds its host's address and names other hosts by address; each host's
loopback is its own (nothing of another host is there); secrets reach processes in their
environment; each host writes only its own directory (logs are the launcher's, as a log
shipper's would be). Exit status as ``python -m bench.drop``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from glob import glob
from pathlib import Path

from bench.drop.infra import provision_database
from bench.drop.network import Host, Network, NetworkPlan, can_make_namespaces
from bench.drop.procs import Service
from bench.drop.system import QUIET_AND_UNLIMITED, STOP_GRACE_S, System, SystemOptions
from models.settings import ROOT, VAR_DIR

log = logging.getLogger("bench.drop")

#: Ports on the hosts (each host has its own address, so every web host uses the same port).
WEB_PORT = 8080
EDGE_PORT = 8080
POSTGRES_PORT = 5432
RABBITMQ_PORT = 5672
REDIS_PORTS = (7000, 7001, 7002)
#: How long the data host's servers may take to answer, in seconds (RabbitMQ takes ~20 s here).
DATA_START_TIMEOUT_S = 120.0
#: The environment variable that carries the plan to the simulator on the load host.
PLAN_ENV = "DROP_NETWORK"


#: nginx's access log line (deploy/nginx/ticketdrop.conf's ``ticketdrop`` format).
_ACCESS = re.compile(r'"(\S+) (\S+)" \d+ \d+ cache=(\S+)')
#: Cache statuses of a request nginx answered without asking a web host.
FROM_CACHE = {"HIT", "STALE", "UPDATING"}


def edge_counts(lines) -> dict[str, int]:
    """Requests in nginx's access log: all, the polled waiting-room documents among them, and how
    many of those nginx answered from its cache."""
    counts = {"requests": 0, "polls": 0, "polls_from_cache": 0}
    for line in lines:
        m = _ACCESS.search(line)
        if not m:
            continue
        counts["requests"] += 1
        if m.group(2).endswith(("/waiting-room/status", "/waiting-room/progress")):
            counts["polls"] += 1
            counts["polls_from_cache"] += m.group(3) in FROM_CACHE
    return counts


def wait_for(address: str, port: int, timeout_s: float, what: str, alive=lambda: True) -> None:
    """Block until ``address:port`` accepts a TCP connection; raises RuntimeError on timeout or when
    ``alive()`` turns False."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what} exited before listening on {address}:{port}")
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on {address}:{port} in {timeout_s} s")


def wait_for_postgres(url: str, timeout_s: float, alive=lambda: True) -> None:
    """Block until PostgreSQL at ``url`` takes a connection (it listens before it has finished
    starting up); raises RuntimeError on timeout or when ``alive()`` turns False."""
    import psycopg2

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            psycopg2.connect(url, connect_timeout=3).close()
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() > deadline or not alive():
                raise RuntimeError(f"PostgreSQL on the data host did not take connections: {exc}") from None
            time.sleep(0.2)


def postgres_bindir() -> Path:
    """Debian's PostgreSQL server programs (the newest major version installed)."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise RuntimeError("initdb not found (Debian: apt-get install postgresql)")
    return Path(found[-1]).parent


def as_postgres(argv: list[str]) -> list[str]:
    """``argv`` run as the postgres user (initdb and postgres refuse root)."""
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]


class HostedSystem(System):
    """:class:`bench.drop.system.System` with each process on its own host of ``plan``."""

    def __init__(self, opts: SystemOptions, plan: NetworkPlan, workdir: Path) -> None:
        super().__init__(opts)
        self.plan = plan
        self.workdir = workdir
        self.port = EDGE_PORT
        self.data = plan.host("data")
        self.db_password = secrets.token_urlsafe(18)
        self.amqp_password = secrets.token_urlsafe(18)
        #: Servers that are not the application's (measured, never restarted): PostgreSQL, Redis, RabbitMQ, nginx.
        self.daemons: list[Service] = []
        self.cluster = None
        #: nginx's access log summed up when it stops (edge_counts).
        self.edge: dict[str, int] | None = None

    @property
    def stores(self) -> str:
        """The report's description of the data host's servers."""
        return (f"on the data host {self.data.address}: PostgreSQL (own initdb), Redis Cluster of {len(REDIS_PORTS)} masters, "
                "RabbitMQ broker (own node)")

    @property
    def redis_pids(self) -> list[int]:
        return self.cluster.pids if self.cluster is not None else []

    @property
    def base_url(self) -> str:
        return f"http://{self.plan.host('edge').address}:{EDGE_PORT}"

    @property
    def metrics_dirs(self) -> list[Path]:
        return [self.workdir / host.name / "metrics" for host in self.plan.group("web")]

    def _daemon(self, name: str, host: Host, argv: list[str], env: dict[str, str] | None = None) -> Service:
        svc = Service(name, host.exec(argv), env or {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                      self.opts.run_dir / "logs" / f"{name}.log", self.workdir)
        svc.start()
        svc.supervised = False
        self.daemons.append(svc)
        return svc

    def start(self) -> None:
        """Start the data host's servers and nginx, migrate, start every process on its host, wait
        until /health?deep=1 answers through nginx; raises RuntimeError if not."""
        o = self.opts
        rabbit = self._start_rabbitmq()
        self._start_postgres()
        self._start_redis_cluster()
        wait_for(self.data.address, RABBITMQ_PORT, DATA_START_TIMEOUT_S, "RabbitMQ", lambda: rabbit.alive)
        self.env = self._environment()
        self.cli("init-db")
        py = sys.executable
        self.scheduler = self._app("scheduler", self.plan.host("scheduler"), [py, "-m", "scheduler"])
        self.workers = [self._app(h.name, h, [py, "-m", "workers", "--processes", "1", "--threads",
                                              str(o.worker_threads)]) for h in self.plan.group("worker")]
        self.webs = [self._app(h.name, h, [py, "-m", "web"]) for h in self.plan.group("web")]
        for svc in self.services:
            svc.start()
        self._start_nginx()
        self.wait_healthy(deep=True)

    def _app(self, name: str, host: Host, argv: list[str]) -> Service:
        metrics = self.workdir / host.name / "metrics"
        metrics.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "HOST": host.address, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        return Service(name, host.exec(argv), env, self.opts.run_dir / "logs" / f"{name}.log", ROOT)

    def _environment(self) -> dict[str, str]:
        o = self.opts
        env = {
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "PYTHONFAULTHANDLER": "1",
            "dramatiq_worker_timeout": "100",  # as the Procfile sets it
            "DATABASE_URL": self.database.url,
            "REDIS_URL": self.redis_url,
            "BROKER_URL": f"amqp://ticketdrop:{self.amqp_password}@{self.data.address}:{RABBITMQ_PORT}/",
            "REDIS_PREFIX": self.prefix,
            "ADMIN_TOKEN": self.admin_token,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "PORT": str(WEB_PORT),
            "TRUST_FORWARDED_FOR": "true",
            **QUIET_AND_UNLIMITED,
        }
        env.update(o.settings_env)
        return env

    def _start_postgres(self) -> None:
        bindir = postgres_bindir()
        pgdata = self.workdir / "postgres"
        pgdata.mkdir(mode=0o700)
        shutil.chown(pgdata, "postgres", "postgres")
        pwfile = self.workdir / "pgpass"
        pwfile.write_text(self.db_password + "\n")
        shutil.chown(pwfile, "postgres", "postgres")
        try:
            done = subprocess.run(as_postgres([str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=scram-sha-256",
                                               f"--pwfile={pwfile}", "--no-sync"]),
                                  capture_output=True, text=True, timeout=120)
        finally:
            pwfile.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")
        with open(pgdata / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {self.plan.subnet}.0/24 scram-sha-256\n")
        pg = self._daemon("postgres", self.data, as_postgres([
            str(bindir / "postgres"), "-D", str(pgdata), "-c", f"listen_addresses={self.data.address}", "-c", f"port={POSTGRES_PORT}",
            "-c", "unix_socket_directories=", "-c", "max_connections=200"]))
        wait_for(self.data.address, POSTGRES_PORT, DATA_START_TIMEOUT_S, "PostgreSQL", lambda: pg.alive)
        admin = f"postgres://postgres:{self.db_password}@{self.data.address}:{POSTGRES_PORT}/postgres"
        wait_for_postgres(admin, DATA_START_TIMEOUT_S, lambda: pg.alive)
        self.database = provision_database(None, admin, self.opts.run_dir, self.opts.run_id)
        if self.database.kind != "postgresql":
            raise RuntimeError(f"could not create the drop's database on the data host (logs in {self.opts.run_dir / 'logs'})")

    def _start_redis_cluster(self) -> None:
        from tests.integration.cluster.servers import LocalRedisCluster

        self.cluster = LocalRedisCluster(host=self.data.address, ports=list(REDIS_PORTS), launcher=self.data.exec([]),
                                         parent=self.workdir).start()
        self.redis_url = self.cluster.url

    def _start_rabbitmq(self) -> Service:
        """A RabbitMQ node of its own on the data host: its own node name, cookie, database,
        config and user (the machine's RabbitMQ, if any, is in another namespace and untouched)."""
        base = self.workdir / "rabbitmq"
        (base / "home").mkdir(parents=True)
        cookie = base / "home" / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20))
        cookie.chmod(0o400)
        (base / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's (which binds 127.0.0.1)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = {self.data.address}:{RABBITMQ_PORT}\n"
            f"default_user = ticketdrop\ndefault_pass = {self.amqp_password}\n"
            "loopback_users = none\n")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(base / "home"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"), "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"), "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"), "RABBITMQ_NODENAME": "ticketdrop@localhost",
            "RABBITMQ_PID_FILE": str(base / "pid"), "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        return self._daemon("rabbitmq", self.data, ["/usr/lib/rabbitmq/bin/rabbitmq-server"], env)

    def _start_nginx(self) -> None:
        from bench.edge import render_config

        edge = self.plan.host("edge")
        nginx_dir = self.workdir / "nginx"
        nginx_dir.mkdir()
        conf = render_config(nginx_dir, EDGE_PORT, [f"{h.address}:{WEB_PORT}" for h in self.plan.group("web")], host=edge.address)
        svc = self._daemon("nginx", edge, [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(nginx_dir), "-c", str(conf)])
        wait_for(edge.address, EDGE_PORT, 15, "nginx", lambda: svc.alive)

    def cli(self, *args: str, timeout_s: float = 120.0) -> str:
        """``python -m ticketdrop ARGS`` on the scheduler host (as an operator would run it there)."""
        argv = self.plan.host("scheduler").exec([sys.executable, "-m", "ticketdrop", *args])
        done = subprocess.run(argv, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"ticketdrop {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout

    def describe(self) -> list[dict]:
        """Each host, its address and what runs there (for the report)."""
        runs = {"load": "the simulator (fans), the operator's init-db and checks",
                "edge": f"nginx on :{EDGE_PORT} (deploy/nginx/ticketdrop.conf), the address fans use",
                "scheduler": "python -m scheduler",
                "data": f"PostgreSQL :{POSTGRES_PORT} (own initdb), Redis Cluster :{','.join(map(str, REDIS_PORTS))} "
                        f"(3 masters), RabbitMQ :{RABBITMQ_PORT} (own node)"}
        rows = []
        for h in self.plan.hosts:
            what = runs.get(h.name) or ("python -m web" if h.name.startswith("web") else
                                        f"dramatiq, 1 process x {self.opts.worker_threads} threads")
            rows.append({"host": h.name, "namespace": h.namespace, "address": h.address, "runs": what})
        return rows

    def stop(self, *, keep_database: bool = False, grace_s: float = STOP_GRACE_S) -> None:
        """Stop the application's processes, then nginx and the data host's servers (the whole
        instance goes: nothing is kept)."""
        self.stopping.set()
        self.stop_processes(grace_s)
        for svc in reversed(self.daemons):
            # PostgreSQL: SIGTERM waits for clients; SIGINT is its fast shutdown.
            svc.signal_group(signal.SIGINT if svc.name == "postgres" else signal.SIGTERM)
        for svc in reversed(self.daemons):
            svc.stop(timeout_s=20)
        if self.cluster is not None:
            self.cluster.stop()
        access = self.workdir / "nginx" / "access.log"
        if access.exists():
            with open(access, errors="replace") as lines:
                self.edge = edge_counts(lines)


def run_inside(args, argv: list[str], plan: NetworkPlan) -> int:
    """The drop itself, on the load host."""
    from bench.drop.__main__ import config_from
    from bench.drop.run import run_drop

    cfg = config_from(args, argv)
    cfg.command = " ".join(["python -m bench.drop.hosts", *map(shlex.quote, argv)]).strip()
    cfg.out = cfg.out or VAR_DIR / "drop" / (datetime.now().strftime("%Y%m%d%H%M%S") + "-hosts")
    workdir = Path(os.environ["DROP_WORKDIR"])
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        code, path = asyncio.run(run_drop(cfg, make_system=lambda opts: HostedSystem(opts, plan, workdir)))
    except (RuntimeError, ValueError) as exc:
        print(f"drop failed to run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the system was stopped on the way out; the launcher removes the hosts
        return 130
    print(f"{'PASS' if code == 0 else 'FAIL'}: report written to {path}")
    return code


def run_outside(argv: list[str], plan: NetworkPlan) -> int:
    """Build the network, run the drop on the load host, remove the network whatever happens."""
    network = Network(plan)
    workdir = Path(tempfile.mkdtemp(prefix=f"{plan.tag}-"))
    workdir.chmod(0o755)  # the postgres user reaches its data directory inside
    child: subprocess.Popen | None = None
    terminated = []

    def terminate(*_):
        terminated.append(True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        log.info("making hosts %s (namespaces %s-*)", ", ".join(f"{h.name} {h.address}" for h in plan.hosts), plan.tag)
        network.up()
        env = {**os.environ, PLAN_ENV: plan.to_json(), "DROP_WORKDIR": str(workdir)}
        child = subprocess.Popen(plan.host("load").exec([sys.executable, "-m", "bench.drop.hosts", *argv]), env=env, cwd=ROOT)
        return child.wait()
    except KeyboardInterrupt:
        if child is not None and child.poll() is None:
            if terminated:  # Ctrl-C reached the drop already (one process group); SIGTERM did not
                child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=90)
            except subprocess.TimeoutExpired:
                child.kill()
        print("interrupted: hosts removed", file=sys.stderr)
        return 130
    finally:
        removed = network.down()
        shutil.rmtree(workdir, ignore_errors=True)
        log.info("removed namespaces %s", ", ".join(removed))


def main(argv: list[str] | None = None) -> int:
    from bench.drop.__main__ import build_parser

    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    parser.prog, parser.description = "python -m bench.drop.hosts", __doc__
    parser.set_defaults(fans=10_000)  # nine hosts share the machine: a tenth of make drop
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s drop: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    if args.chaos:
        parser.error("--chaos is not supported across hosts yet (its faults restart a local Redis and use the Redis broker)")
    if args.database_url or args.redis_url or args.broker_url:
        parser.error("the data host makes its own PostgreSQL, Redis Cluster and RabbitMQ: no store URLs here")
    if PLAN_ENV in os.environ:
        return run_inside(args, argv, NetworkPlan.from_json(os.environ[PLAN_ENV]))
    why = can_make_namespaces()
    if why:
        print(f"drop failed to run: {why}", file=sys.stderr)
        return 2
    return run_outside(argv, NetworkPlan.for_drop(args.web, args.workers))


if __name__ == "__main__":
    sys.exit(main())
