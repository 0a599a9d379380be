"""The operations tests again, on real PostgreSQL and Redis: pause/resume and status, rate
limits (the GCRA script on a real Redis clock; a join's limits in the join's own script),
/metrics, the sweeps' concurrency (real row locks), and the flush -> reconcile -> sell-out run."""

from __future__ import annotations

import pytest

from tests.unit.models.test_ratelimit import *  # noqa: F403
from tests.unit.models.test_sweeps import *  # noqa: F403
from tests.unit.models.test_waiting_room_join_limits import *  # noqa: F403
from tests.unit.web.test_logging_trace import *  # noqa: F403
from tests.unit.web.test_metrics import *  # noqa: F403
from tests.unit.web.test_operations import *  # noqa: F403
from tests.unit.web.test_operations_purchase import *  # noqa: F403
from tests.unit.web.test_ratelimit import *  # noqa: F403
from tests.unit.web.test_sweeps_recovery import *  # noqa: F403

pytestmark = pytest.mark.integration
