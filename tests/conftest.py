"""Shared fixtures. Unit tests: fakeredis[lua] + SQLite + Dramatiq's StubBroker.

tests/integration/conftest.py overrides ``settings``, ``redis``, ``aredis`` and ``db`` with
real servers, so the same API tests run there too.
"""

from __future__ import annotations

import os
import uuid

# Processes a test starts build their broker from BROKER_URL; in this one, the stub_broker fixture does.
os.environ["BROKER_URL"] = "stub://"
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("ADMIN_TOKEN", "test-admin-token")
os.environ.setdefault("SECRET_KEY", "test-secret-key-0123456789abcdef")

import dramatiq  # noqa: E402
import fakeredis  # noqa: E402
import pytest  # noqa: E402
from dramatiq import Worker  # noqa: E402

from models.commands import bind_commands  # noqa: E402
from models.db import bind_database, database, open_database  # noqa: E402
from models.keys import Keys  # noqa: E402
from models.schema import create_schema  # noqa: E402
from models.settings import Settings  # noqa: E402
from tests.slots import slot_check  # noqa: E402
from workers import runtime as worker_runtime  # noqa: E402
from workers.actors import Actors  # noqa: E402
from workers.broker import build_broker  # noqa: E402
from workers.entry import wire  # noqa: E402


def make_settings(tmp_path, **overrides) -> Settings:
    base = Settings(
        database_url=f"sqlite:///{tmp_path / 'test.db'}",
        redis_url="redis://fake",
        broker_url="stub://",
        admin_token="test-admin-token",
        secret_key="test-secret-key-0123456789abcdef",
        redis_prefix=f"t{uuid.uuid4().hex[:8]}:",
        db_max_connections=8,
        db_threads=4,
        # Rate limits off unless a test turns them on.
        rate_join_per_min=0,
        rate_reserve_per_min=0,
        rate_checkout_per_min=0,
        rate_per_ip_per_min=0,
        rate_unknown_event_per_min=0,
        # A check never fails open for want of CPU on a loaded machine; the tests of the timeout
        # set their own.
        rate_check_timeout_s=60.0,
        actor_max_retries=0,
        log_format="console",
    )
    return base.with_(**overrides)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def keys(settings) -> Keys:
    return Keys(settings.redis_prefix)


@pytest.fixture(autouse=True)
def one_slot_per_script():
    """Fail a test that ran a Lua script over keys of two Redis Cluster slots (tests/slots.py)."""
    with slot_check() as check:
        yield check
    assert not check.violations, check.report()


@pytest.fixture
def redis_server():
    return fakeredis.FakeServer()


@pytest.fixture
def redis(redis_server):
    """A blocking Redis (what workers and the scheduler use)."""
    client = fakeredis.FakeRedis(server=redis_server, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
async def aredis(redis_server):
    """An asyncio Redis on the same data (what the web tier uses)."""
    client = fakeredis.FakeAsyncRedis(server=redis_server, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def db(settings):
    """A fresh database with every table."""
    bind_database(open_database(settings.database_url, max_connections=settings.db_max_connections))
    create_schema()
    yield database
    if not database.is_closed():
        database.close()
    if hasattr(database.obj, "close_all"):
        database.obj.close_all()


#: The one StubBroker of the test process (Dramatiq's global broker, so actors a test module
#: declares with ``@dramatiq.actor`` land on it too); each test gets it flushed.
STUB_BROKER = build_broker(Settings(broker_url="stub://"))
dramatiq.set_broker(STUB_BROKER)


@pytest.fixture
def stub_broker(settings):
    """The test's wiring, as an entry point does it: every actor declared on the StubBroker (queue
    names and retries from ``settings``) and models.commands bound to them. Yields the broker."""
    STUB_BROKER.flush_all()
    wire(settings, STUB_BROKER)
    yield STUB_BROKER
    STUB_BROKER.flush_all()
    bind_commands(None)


@pytest.fixture
def actors(stub_broker) -> Actors:
    """The actors the stub_broker fixture declared (``actors.drain_event.message(...)``)."""
    return Actors(**{name: stub_broker.get_actor(name) for name in Actors.__dataclass_fields__})


@pytest.fixture
def runtime(settings, redis, db, stub_broker):
    """The worker-side runtime (settings, blocking Redis, database) actors use, wired like a
    worker process (stub_broker)."""
    current = worker_runtime.Runtime(settings, redis, Keys(settings.redis_prefix))
    worker_runtime.install(current)
    yield current
    worker_runtime.install(None)


@pytest.fixture
def stub_worker(stub_broker, runtime):
    worker = Worker(stub_broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield worker
    worker.stop()
    # Worker.start() adds a middleware bound to this worker; the broker is global, so drop it,
    # or a stopped worker would still grow consumers when a later test declares a queue.
    stub_broker.middleware[:] = [m for m in stub_broker.middleware if getattr(m, "worker", None) is not worker]


@pytest.fixture
def app(settings, aredis, redis, db, stub_broker, runtime):
    """The web app, its blocking Redis client on the same data as ``aredis``; every JSON answer
    it gives in the test is checked against its OpenAPI document."""
    from tests.openapi_conformance import VIOLATIONS, install
    from web.app import create_app
    from web.appkeys import SYNC_REDIS

    app = create_app(settings, redis=aredis, broker=stub_broker, bind_db=False)
    app[SYNC_REDIS] = redis
    install(app)
    yield app
    assert app[VIOLATIONS] == [], f"answers that break the OpenAPI document: {app[VIOLATIONS]}"


@pytest.fixture
async def client(aiohttp_client, app):
    return await aiohttp_client(app)


@pytest.fixture
async def shop(client, stub_worker):
    """The app's client with a Dramatiq worker running the actors: reservations are decided and
    payments settled as in production (``client`` alone leaves the messages queued). The worker
    is stopped before the app closes the database its threads still use (fixtures are torn down
    in the reverse order of their set-up)."""
    return client


@pytest.fixture
def admin_headers(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"}
