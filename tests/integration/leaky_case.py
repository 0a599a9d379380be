"""Run only by test_no_keys_left.py (its name keeps it out of a normal run): a test that writes
keys through the shared fixtures and through a process of its own, then fails."""

from __future__ import annotations

import os
from pathlib import Path

from tests.integration.conftest import RUN_PREFIX


async def test_that_writes_keys_and_fails(settings, redis, aredis):
    Path(os.environ["LEAK_REPORT"]).write_text(f"{settings.redis_prefix}\n{RUN_PREFIX}\n")
    redis.set(f"{settings.redis_prefix}sync", "1", ex=30 * 86400)
    await aredis.set(f"{settings.redis_prefix}async", "1", ex=30 * 86400)
    redis.set(f"{RUN_PREFIX}_other_process:room", "1", ex=30 * 86400)  # as a started process would
    raise AssertionError("failing on purpose: the keys must go anyway")
