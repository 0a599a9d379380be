"""What the tests start from, one definition each: rows made directly with Peewee
(:func:`make_event`, :func:`make_tier`), and fans let in through the waiting room over HTTP
(:func:`admitted`, the first step of every purchase journey), and a local server answering each
connection as a test says (:func:`local_server`: a fake Redis speaking RESP, say).

A test module that wants other defaults (a name a test asserts, a price) binds them once with
``functools.partial`` (tests/unit/models/checkout_factories.py does). The app fixtures (``client``,
and ``shop`` with a worker deciding reservations and payments) are in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from models.tables import Event, TicketTier, utcnow
from models.waiting_room import admit_waves


def make_event(*, name: str = "Drop", venue: str = "Arena", status: str = "on_sale",
               on_sale_at: datetime | None = None, on_sale_in_s: float = -3600.0,
               starts_at: datetime | None = None, starts_in_s: float | None = None, **fields: Any) -> Event:
    """An event on sale since an hour (``on_sale_at``, or ``on_sale_in_s`` from now), starting a
    week after its on-sale (``starts_at``, or ``starts_in_s`` from now); other columns as given."""
    now = utcnow()
    on_sale = on_sale_at or now + timedelta(seconds=on_sale_in_s)
    starts = starts_at or (now + timedelta(seconds=starts_in_s) if starts_in_s is not None else on_sale + timedelta(days=7))
    return Event.create(name=name, venue=venue, status=status, on_sale_at=on_sale, starts_at=starts, **fields)


def make_tier(event: Event | None = None, *, new_event: Callable[[], Event] = make_event, name: str = "Floor",
              price_cents: int = 5000, capacity: int = 100, **fields: Any) -> TicketTier:
    """A tier of ``event`` (a ``new_event()`` if none)."""
    return TicketTier.create(event=event if event is not None else new_event(), name=name, price_cents=price_cents,
                             capacity=capacity, **fields)


async def admitted(client: Any, runtime: Any, event: Event | str, *users: str, now_ms: int | None = None,
                   until_can_enter: bool = False) -> list[str]:
    """Join every user to the event's waiting room (each a new fan: 201), run one wave tick (at
    ``now_ms`` if given; waves are wave_interval_s apart) and return their tokens. With
    ``until_can_enter``, first read the last one's status until it says it may enter (the status
    may answer from a short per-process cache)."""
    event_id = str(event.id) if isinstance(event, Event) else event
    tokens = []
    for user in users:
        resp = await client.post(f"/events/{event_id}/waiting-room/join", headers={"X-User-Id": user})
        assert resp.status == 201, await resp.text()
        tokens.append((await resp.json())["token"])
    admit_waves(runtime, now_ms=now_ms)
    if not until_can_enter:
        return tokens
    for _ in range(40):
        status = await (await client.get(f"/events/{event_id}/waiting-room/status", params={"token": tokens[-1]})).json()
        if status["canEnter"]:
            return tokens
        await asyncio.sleep(0.1)
    raise AssertionError(f"not admitted: {status}")


@asynccontextmanager
async def local_server(serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
                       ) -> AsyncIterator[int]:
    """A server on a free port of 127.0.0.1 that answers each connection with ``serve``; yields
    the port and closes the server after."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
