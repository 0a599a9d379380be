"""The waitlist documents' tests again, on real PostgreSQL: the count of fans ahead, the index it
reads (created by create_schema, and PostgreSQL's plan using it), statements per join and list."""

from __future__ import annotations

import pytest

from tests.unit.models.test_waitlist_entries import *  # noqa: F403

pytestmark = pytest.mark.integration
