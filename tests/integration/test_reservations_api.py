"""The reservation HTTP tests again, on real PostgreSQL and Redis (see test_api_on_real_services)."""

from __future__ import annotations

import pytest

from tests.unit.web.test_reservations import *  # noqa: F403

pytestmark = pytest.mark.integration
