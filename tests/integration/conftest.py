"""Real-server fixtures: PostgreSQL, Redis and RabbitMQ on this machine (or CI's services).

They override ``settings``, ``db``, ``redis`` and ``aredis`` from tests/conftest.py, so test
functions written against those names (tests/unit/web/...) run here unchanged:

- one fresh PostgreSQL database per test session (``td_test_<hex>``), every table truncated
  before each test, the database dropped at the end;
- a unique Redis key prefix per test (inside the run's ``RUN_PREFIX``), its keys deleted after
  the test even when it fails, and whatever is left under ``RUN_PREFIX`` deleted when the run ends;
- the servers come from TEST_DATABASE_URL, TEST_REDIS_URL and TEST_RABBITMQ_URL (defaults: this
  machine's PostgreSQL database ``test``, Redis database 0, RabbitMQ as guest).

An unreachable server skips the test locally but fails it when ``CI=true``: in CI a missing
service is a broken pipeline, not a reason to go green.
"""

from __future__ import annotations

import os
import re
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psycopg2
import pytest
from psycopg2 import sql

from models.db import bind_database, database, open_database
from models.redis import connect_async, connect_sync, delete_prefixed
from models.schema import create_schema
from models.tables import ALL_TABLES
from tests.conftest import make_settings
from tests.servers import mark_directory, unavailable

T = TypeVar("T")

#: The servers, each chosen in the environment (docs/testing.md). TEST_DATABASE_URL names an existing
#: database to connect to while creating and dropping the session's own.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL") or "amqp://guest:guest@127.0.0.1:5672/"
_PG = urllib.parse.urlsplit(TEST_DATABASE_URL)
PG_HOST, PG_PORT, PG_USER, PG_PASSWORD = _PG.hostname or "127.0.0.1", _PG.port or 5432, _PG.username or "postgres", _PG.password
PG_MAINTENANCE_DB = _PG.path.lstrip("/") or "postgres"
#: Every Redis key this test run makes starts with this; the session removes what is left at its end.
RUN_PREFIX = f"td_test_{uuid.uuid4().hex[:8]}"
#: Seconds to wait for a server before calling it unreachable.
CONNECT_TIMEOUT_S = 3

_HERE = Path(__file__).resolve().parent


def require(name: str, check: Callable[[], T]) -> T:
    """Return ``check()``; if it raises, skip the test (locally) or fail it (CI=true)."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - any failure means the server is not usable
        unavailable(f"{name} is not reachable: {type(exc).__name__}: {exc}".strip())


def pytest_collection_modifyitems(config, items):
    # Everything in this directory needs real servers, including the unit tests re-run here.
    mark_directory(items, _HERE, pytest.mark.integration)


# -- PostgreSQL -----------------------------------------------------------------------------

def pg_url(dbname: str) -> str:
    """A URL for database ``dbname`` on the test PostgreSQL server."""
    auth = PG_USER + (f":{urllib.parse.quote(PG_PASSWORD, safe='')}" if PG_PASSWORD else "")
    return f"postgres://{auth}@{PG_HOST}:{PG_PORT}/{dbname}"


def _maintenance_connection():
    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_MAINTENANCE_DB,
                            connect_timeout=CONNECT_TIMEOUT_S)
    conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    return conn


def postgres_server_url() -> str:
    """The URL of the test PostgreSQL server's maintenance database, once the server answers."""
    _maintenance_connection().close()
    return pg_url(PG_MAINTENANCE_DB)


@pytest.fixture(scope="session")
def pg_database_name() -> str:
    return f"td_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def postgres_database(pg_database_name):
    """The session's own database with every table; dropped (connections terminated) at the end."""
    admin = require("PostgreSQL", _maintenance_connection)
    name = sql.Identifier(pg_database_name)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(name))
    db = open_database(pg_url(pg_database_name), max_connections=16)
    try:
        bind_database(db)
        create_schema()
        yield db
    finally:
        db.close_all()
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (pg_database_name,),
            )
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(name))
        admin.close()


@pytest.fixture
def settings(tmp_path, pg_database_name):
    return make_settings(
        tmp_path,
        database_url=pg_url(pg_database_name),
        redis_url=REDIS_URL,
        redis_prefix=test_prefix(),
    )


@pytest.fixture
def db(postgres_database):
    """The session database, emptied: each test starts with no rows at all."""
    bind_database(postgres_database)
    tables = ", ".join(f'"{t._meta.table_name}"' for t in ALL_TABLES)
    with postgres_database.connection_context():
        postgres_database.execute_sql(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE")
    yield database
    if not database.is_closed():
        database.close()
    postgres_database.close_all()


# -- Redis ----------------------------------------------------------------------------------

def _pattern(prefix: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"


def test_prefix() -> str:
    """A fresh key prefix inside this run's (one per test, or per process a test starts)."""
    return f"{RUN_PREFIX}_{uuid.uuid4().hex[:10]}:"


test_prefix.__test__ = False  # a helper, not a test


@pytest.fixture(scope="session", autouse=True)
def _no_key_left_behind():
    """At the end of the run, remove any key of this run a test or a process it started left behind
    (the per-test fixtures remove theirs even when the test fails; this catches everything else)."""
    yield
    try:
        client = connect_sync(REDIS_URL, socket_connect_timeout=CONNECT_TIMEOUT_S)
        try:
            delete_prefixed(client, RUN_PREFIX)
        finally:
            client.close()
    except Exception:  # noqa: BLE001, S110 - no Redis: nothing was written there
        pass


@pytest.fixture
def redis(settings):
    """A real blocking client (decoded replies); the test's keys are deleted afterwards."""
    require("Redis", lambda: _ping(settings.redis_url))
    client = connect_sync(settings.redis_url, socket_connect_timeout=CONNECT_TIMEOUT_S)
    try:
        yield client
    finally:
        delete_prefixed(client, settings.redis_prefix)
        client.close()


@pytest.fixture
async def aredis(settings):
    """A real asyncio client (decoded replies); the test's keys are deleted afterwards."""
    require("Redis", lambda: _ping(settings.redis_url))
    client = connect_async(settings.redis_url, socket_connect_timeout=CONNECT_TIMEOUT_S)
    try:
        yield client
    finally:
        async for key in client.scan_iter(match=_pattern(settings.redis_prefix), count=1000):
            await client.unlink(key)
        await client.aclose()


def _ping(url: str) -> None:
    client = connect_sync(url, socket_connect_timeout=CONNECT_TIMEOUT_S)
    try:
        client.ping()
    finally:
        client.close()


@pytest.fixture
def real_broker(settings, runtime, stub_broker):
    """A RedisBroker under the test's key prefix carrying every actor, the domain's commands bound to it."""
    from workers.broker import build_broker
    from workers.entry import wire

    broker = build_broker(settings.with_(broker_url=REDIS_URL))
    wire(settings, broker)
    yield broker
    wire(settings, stub_broker)
    broker.close()


@pytest.fixture
def start_workers(real_broker):
    """``start_workers(threads)``: two Dramatiq workers of ``threads`` threads each on the real
    broker, in this process, stopped when the test ends."""
    from dramatiq import Worker

    started: list[Worker] = []

    def start(threads: int) -> list[Worker]:
        pool = [Worker(real_broker, worker_threads=threads, worker_timeout=100) for _ in range(2)]
        for worker in pool:
            worker.start()
        started.extend(pool)
        return pool

    yield start
    for worker in started:
        worker.stop()
