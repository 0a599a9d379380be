"""Log lines captured for a test, formatted as the processes write them (models.logs.JsonFormatter)."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import orjson

from models.logs import JsonFormatter


@contextmanager
def json_log_lines(*loggers: str, process: str = "test", level: int = logging.DEBUG) -> Iterator[Callable[[], list[dict]]]:
    """While the block runs, the named loggers (at ``level``) also write JSON lines to a buffer;
    yields a function that parses the lines written so far."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(process))
    captured = [logging.getLogger(name) for name in loggers]
    for logger in captured:
        logger.addHandler(handler)
        logger.setLevel(level)
    try:
        yield lambda: [orjson.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        for logger in captured:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
