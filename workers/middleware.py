"""Dramatiq middleware we add to every broker: request ids, actor metrics, JSON logs.

Dramatiq's own Prometheus middleware is not used: it points PROMETHEUS_MULTIPROC_DIR at its own
directory at boot (our worker metrics would vanish from /metrics), binds 0.0.0.0:9191 by
default, and a second worker main process cannot bind the port. Actor durations and failures
go to our multiprocess files instead, and the web tier's /metrics serves them.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from models.context import request_id_var
from models.logs import configure_logging
from models.metrics import ACTOR_DURATION, ACTOR_FAILURES
from models.settings import Settings

log = logging.getLogger("ticketdrop.workers")

#: The message option carrying the request id across processes.
REQUEST_ID_OPTION = "request_id"


class RequestIdMiddleware(Middleware):
    """Carries the request id from the code that sends a message into the actor that runs it.

    ``before_enqueue`` copies ``request_id_var`` into ``message.options``; ``before_process_message``
    sets it for the actor (so its log lines and the messages it sends carry it); the ``after_*``
    hooks restore the worker thread's previous value.
    """

    def __init__(self) -> None:
        self._tokens: dict[str, Any] = {}
        self._lock = threading.Lock()

    def before_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int) -> None:
        rid = request_id_var.get()
        if rid and REQUEST_ID_OPTION not in message.options:
            message.options[REQUEST_ID_OPTION] = rid

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        token = request_id_var.set(message.options.get(REQUEST_ID_OPTION) or f"msg-{message.message_id}")
        with self._lock:
            self._tokens[message.message_id] = token

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        with self._lock:
            token = self._tokens.pop(message.message_id, None)
        if token is not None:
            try:
                request_id_var.reset(token)
            except ValueError:  # set in another context (cannot happen with Dramatiq's threads)
                request_id_var.set(None)

    after_skip_message = after_process_message


class ActorMetricsMiddleware(Middleware):
    """Actor run time and failures (``ticketdrop_actor_duration_seconds``, ``..._failures_total``)."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def before_process_message(self, broker, message) -> None:
        with self._lock:
            self._started[message.message_id] = time.perf_counter()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        with self._lock:
            started = self._started.pop(message.message_id, None)
        elapsed = time.perf_counter() - started if started is not None else 0.0
        ACTOR_DURATION.labels(message.actor_name).observe(elapsed)
        extra = {"actor": message.actor_name, "message_id": message.message_id, "duration_ms": round(elapsed * 1000, 1)}
        if exception is not None:
            ACTOR_FAILURES.labels(message.actor_name).inc()
            log.warning("actor failed", extra={**extra, "error": f"{type(exception).__name__}: {exception}",
                                               "retries": message.options.get("retries", 0)})
        else:
            log.debug("actor finished", extra=extra)

    def after_skip_message(self, broker, message) -> None:
        with self._lock:
            self._started.pop(message.message_id, None)


class JsonLoggingMiddleware(Middleware):
    """Worker processes log like the others (JSON lines with the request id), not Dramatiq's text."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def after_process_boot(self, broker) -> None:
        configure_logging(self._settings, process="worker")


def extra_middleware(settings: Settings) -> list:
    # RequestId first: its before_process_message sets the id before the others log anything.
    return [RequestIdMiddleware(), ActorMetricsMiddleware(), JsonLoggingMiddleware(settings)]
