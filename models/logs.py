"""Logging set-up: one JSON object per line (or readable console lines), with the request id.

Two small stdlib formatters, not structlog: every line here, ours and the libraries'
(Dramatiq, aiohttp, APScheduler), is a stdlib ``LogRecord``, and these format them all the
same once a process has called :func:`configure_logging`; structlog would add a second logging
API for the same output, so it is not a dependency.
"""

from __future__ import annotations

import logging
import sys
import time

import orjson

from models.context import request_id_var
from models.settings import Settings

_STD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process_name = process
        #: (whole second, its text): lines come many per second, strftime is written once each.
        self._second: tuple[int, str] = (-1, "")

    def _ts(self, record: logging.LogRecord) -> str:
        whole = int(record.created)
        second, text = self._second  # one tuple: threads that format at once never mix two seconds
        if whole != second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            self._second = (whole, text)
        return f"{text}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": self._ts(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": self.process_name,
            "event": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            data["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and key not in data and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(data, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in record.__dict__.items() if k not in _STD_ATTRS and not k.startswith("_")}
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            extras.setdefault("request_id", rid)
        tail = " ".join(f"{k}={v}" for k, v in extras.items())
        line = f"{record.levelname[0]} {record.name}: {record.getMessage()} {tail}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(settings: Settings, *, process: str) -> None:
    # Neither formatter prints where a call came from, so no record looks it up: stdlib logging
    # walks the caller's frames (findCaller) on every call unless _srcfile is None (the Logging
    # HOWTO's "Optimization" section). That was about a seventh of the join's log line.
    logging._srcfile = None
    # Nor the thread, process or multiprocessing names (the same section): every record asked
    # for them (threading.current_thread, os.getpid), about a sixth of a line; our lines name the
    # process by its role instead.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process) if settings.log_format == "json" else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("pika").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Peewee logs every query with its parameters at DEBUG: ticket secrets, QR signatures and
    # Idempotency-Key fingerprints would reach the log with LOG_LEVEL=DEBUG. Never below INFO.
    logging.getLogger("peewee").setLevel(max(logging.INFO, root.level))
