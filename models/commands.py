"""The commands the domain sends to the workers: a port, implemented by ``workers.commands``.

Models never import workers/: a service that must start work elsewhere (decide an event's
reservations, settle its payments, refund its orders) calls :func:`commands` and one of the
methods of :class:`Commands`. Each process's entry point binds the implementation once, the way
``models.db.bind_database`` binds the database: ``web.app.create_app``, the worker's
``python -m workers``, ``python -m scheduler`` and ``python -m ticketdrop``. Unit tests bind
``workers.commands.ActorCommands`` on a StubBroker (the ``stub_broker`` fixture) or a recorder
of their own. Every send is blocking (the broker clients are sync) and happens after the
caller's transaction commits.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any, Protocol


class Commands(Protocol):
    """What the domain asks the workers to do. Every command is idempotent on the worker side."""

    def send_drain(self, event_id: str, delay_ms: int | None = None) -> None:
        """Decide the event's queued reservation requests (``drain_event``), after ``delay_ms``."""

    def send_settle(self, event_id: str) -> None:
        """Settle the event's confirmed checkout sessions (``settle_checkouts``)."""

    def send_expire_checkout(self, session_id: str) -> None:
        """Expire a session whose hold lapsed (``expire_checkout``)."""

    def send_refund_event(self, event_id: str) -> None:
        """Refund the canceled event's paid orders (``refund_event``)."""


class CommandsNotBound(RuntimeError):
    """A command was sent before the process's entry point bound an implementation."""


_bound: Commands | None = None


def bind_commands(implementation: Commands | None) -> None:
    """Make ``implementation`` the process's commands (entry points; tests pass None to unbind)."""
    global _bound
    _bound = implementation


def commands() -> Commands:
    """The process's commands. Raises CommandsNotBound if no entry point bound them."""
    if _bound is None:
        raise CommandsNotBound("no Commands bound: an entry point calls models.commands.bind_commands() first")
    return _bound


async def off_loop(send: Callable[..., None], *args: Any) -> None:
    """Run a blocking ``send`` in the loop's default executor (async callers), with the caller's
    context: the request id rides into the message (workers.middleware)."""
    await asyncio.get_running_loop().run_in_executor(None, contextvars.copy_context().run, send, *args)
