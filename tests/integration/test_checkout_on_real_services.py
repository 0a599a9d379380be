"""The checkout and ticket API tests again, on real PostgreSQL and Redis (this directory's
conftest swaps SQLite and fakeredis for the real servers): 200 simultaneous duplicate
sessions, 100 simultaneous confirms, both journeys, every error status."""

from __future__ import annotations

import pytest

from tests.unit.web.test_checkout_confirm import *  # noqa: F403
from tests.unit.web.test_checkout_journeys import *  # noqa: F403
from tests.unit.web.test_checkout_sessions import *  # noqa: F403
from tests.unit.web.test_tickets import *  # noqa: F403

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings):
    # More database threads than the unit default, so duplicates really meet in PostgreSQL.
    return settings.with_(db_threads=12)
