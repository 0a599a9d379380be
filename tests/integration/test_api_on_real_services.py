"""The HTTP API tests again, on real PostgreSQL and Redis.

Importing the unit modules' tests makes pytest collect them here, where this directory's
conftest swaps SQLite and fakeredis for the real servers. Add a module here when its tests
should also hold against real services.
"""

from __future__ import annotations

import pytest

from tests.unit.web.test_admin_catalog import *  # noqa: F403
from tests.unit.web.test_events import *  # noqa: F403
from tests.unit.web.test_hostile_input import *  # noqa: F403
from tests.unit.web.test_system import *  # noqa: F403

pytestmark = pytest.mark.integration
