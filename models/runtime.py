"""What blocking domain code needs at run time (``rt``): settings, a blocking Redis client, keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.db import bind_database, open_database
from models.keys import Keys
from models.redis import connect_sync
from models.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    redis: Any
    keys: Keys


def build_runtime(settings: Settings) -> Runtime:
    """Bind the database and connect Redis for a blocking process (worker, scheduler, CLI)."""
    bind_database(open_database(settings.database_url, max_connections=settings.db_max_connections))
    return Runtime(settings, connect_sync(settings.redis_url), Keys(settings.redis_prefix))
