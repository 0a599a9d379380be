"""The integration tests' key paths on a real Redis Cluster of three masters.

``redis_cluster`` starts one (tests/integration/cluster/servers.py, Debian's redis-server on
free local ports in a temporary directory) for the session and removes it after; without
``redis-server`` the tests skip locally and fail under CI=true. ``settings`` names the cluster
(``REDIS_URL=redis+cluster://...``), and the suite's ``redis``/``aredis`` fixtures follow it, so
every test here, including those imported from elsewhere, talks to the cluster; PostgreSQL is
the suite's own.
"""

from __future__ import annotations

import pytest

from tests.integration.cluster.servers import LocalRedisCluster
from tests.integration.conftest import require


@pytest.fixture(scope="session")
def redis_cluster():
    cluster = require("Redis Cluster (Debian's redis-server)", lambda: LocalRedisCluster().start())
    yield cluster
    cluster.stop()


@pytest.fixture
def settings(settings, redis_cluster):
    return settings.with_(redis_url=redis_cluster.url)


@pytest.fixture
async def aredis(aredis):
    """The suite's asyncio client (a cluster client here: settings name the cluster), its slot
    map learned up front as web/app.py does at start-up; its keys on every master are removed."""
    await aredis.initialize()
    return aredis
