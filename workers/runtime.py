"""What actors need at run time: settings, a Redis client, the database binding.

Built lazily from the environment in a worker process; tests call :func:`install` with
fakeredis and a SQLite database instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from models.db import bind_database, database, open_database
from models.keys import Keys
from models.redis import connect_sync
from models.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    redis: Any
    keys: Keys


_lock = threading.Lock()
_current: Runtime | None = None


def get() -> Runtime:
    """The process's runtime, created on first use."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                settings = Settings.from_env()
                bind_database(open_database(settings.database_url, max_connections=settings.db_max_connections))
                _current = Runtime(settings, connect_sync(settings.redis_url), Keys(settings.redis_prefix))
    return _current


def install(runtime: Runtime | None) -> None:
    """Replace the runtime (tests)."""
    global _current
    _current = runtime


def db():
    """The bound database (for ``with runtime.db().atomic():``)."""
    get()
    return database
