"""Run blocking Peewee work off the event loop, each call in its own pooled connection."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from models.db import database
from web.appkeys import DB_EXECUTOR

T = TypeVar("T")


def _in_connection(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with database.connection_context():
        return fn(*args, **kwargs)


async def run_db(app: web.Application, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn(*args, **kwargs)`` in the database threads (web.dbthreads) and return its result."""
    # A thread does not see this task's contextvars: copy them, so the request id reaches log
    # lines and actor messages produced in the database thread.
    context = contextvars.copy_context()
    if kwargs:
        fn = functools.partial(fn, **kwargs)
    return await app[DB_EXECUTOR].submit(context.run, _in_connection, fn, *args)
