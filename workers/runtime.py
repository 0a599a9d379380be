"""The process's runtime (``models.runtime.Runtime``: settings, a Redis client, the database binding).

Built lazily from the environment in a worker or scheduler process; tests call :func:`install`
with fakeredis and a SQLite database instead.
"""

from __future__ import annotations

import threading

from models.db import database
from models.runtime import Runtime, build_runtime
from models.settings import Settings

__all__ = ["Runtime", "db", "get", "install"]

_lock = threading.Lock()
_current: Runtime | None = None


def get() -> Runtime:
    """The process's runtime, created on first use."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = build_runtime(Settings.from_env())
    return _current


def install(runtime: Runtime | None) -> None:
    """Replace the runtime (tests)."""
    global _current
    _current = runtime


def db():
    """The bound database (for ``with runtime.db().atomic():``)."""
    get()
    return database
