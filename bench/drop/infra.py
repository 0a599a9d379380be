"""The data stores a drop runs against: a fresh database and a Redis server we own.

Database, in order: ``--database-url`` as given; else a fresh database created on the
PostgreSQL server at ``--postgres`` (dropped afterwards); else a SQLite file in the run
folder (the embedded default). Redis: ``--redis-url`` as given, else our own
``redis-server`` on a unix socket with no persistence, so a restart loses every key (what
the chaos run wants).
"""

from __future__ import annotations

import logging
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import redis

from bench.drop.procs import _die_with_parent
from ticketdrop import embedded_redis

log = logging.getLogger("bench.drop")


@dataclass
class Database:
    url: str
    #: (server URL, database name) when we created it and must drop it.
    created: tuple[str, str] | None = None

    @property
    def kind(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    def drop(self) -> None:
        """Drop the database we created (no-op for one we were given)."""
        if self.created is None:
            return
        server, name = self.created
        with _admin_connection(server) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        self.created = None


class _admin_connection:
    """An autocommit psycopg2 connection to ``server_url`` (CREATE/DROP DATABASE need one)."""

    def __init__(self, server_url: str) -> None:
        import psycopg2

        parts = urlsplit(server_url)
        self.conn = psycopg2.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432, user=parts.username or "postgres",
                                     password=parts.password, dbname=parts.path.lstrip("/") or "postgres", connect_timeout=3)
        self.conn.autocommit = True

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc) -> None:
        self.conn.close()


def provision_database(database_url: str | None, postgres_url: str | None, run_dir: Path, run_id: str) -> Database:
    """Pick the database for this run (see the module docstring). Returns it."""
    if database_url:
        return Database(database_url)
    if postgres_url:
        name = f"ticketdrop_drop_{run_id}"
        try:
            with _admin_connection(postgres_url) as conn, conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
            log.warning("PostgreSQL at %s unusable (%s); using the embedded SQLite default", postgres_url, type(exc).__name__)
        else:
            parts = urlsplit(postgres_url)
            auth = parts.username or "postgres"
            if parts.password:
                auth += f":{parts.password}"
            url = f"postgres://{auth}@{parts.hostname or '127.0.0.1'}:{parts.port or 5432}/{name}"
            return Database(url, created=(postgres_url, name))
    return Database(f"sqlite:///{run_dir / 'drop.db'}")


class RedisServer:
    """A redis-server we own on a unix socket: kill it (losing every key) and start it again."""

    def __init__(self, run_dir: Path) -> None:
        # Unix socket paths are limited to ~100 bytes: keep it short, in /tmp.
        self.socket = Path("/tmp") / f"td-drop-{uuid.uuid4().hex[:10]}.sock"
        self.log_path = run_dir / "logs" / "redis.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the server and wait for PING; raises RuntimeError when it does not answer."""
        self.socket.unlink(missing_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [embedded_redis.server_binary(), "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no", "--maxclients", "10000", "--loglevel", "warning",
                "--logfile", str(self.log_path), "--dir", "/tmp"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout_s
        client = redis.Redis(unix_socket_path=str(self.socket), socket_connect_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise RuntimeError(f"redis-server did not start (see {self.log_path})")

    def kill(self) -> None:
        """SIGKILL: the data set is gone (no persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.socket.unlink(missing_ok=True)
