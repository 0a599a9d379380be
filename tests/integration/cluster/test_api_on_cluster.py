"""The HTTP tests of the fan's path again, with REDIS_URL naming a Redis Cluster: whole
journeys (join -> admitted -> reserve -> pay -> tickets -> check-in), reservations with
``Prefer: wait`` answered through sharded pub/sub, and rate limits (one script per slot).
Workers are Dramatiq's StubBroker threads here; test_engine_on_cluster.py runs them on RabbitMQ
and covers the waiting room's joins, waves and restore."""

from __future__ import annotations

import pytest

from tests.unit.web.test_checkout_journeys import *  # noqa: F403
from tests.unit.web.test_outcomes import *  # noqa: F403
from tests.unit.web.test_ratelimit import *  # noqa: F403
from tests.unit.web.test_reservations import *  # noqa: F403

pytestmark = pytest.mark.integration
