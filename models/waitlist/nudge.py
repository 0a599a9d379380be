"""Telling an event's drainer that tickets came back: one "offers" marker in its mailbox.

Offers are holds, so they are granted where every hold is: by the event's drainer, under its
lease, in mailbox order (models/waitlist/offers.py). Whoever returns stock (a released or
expired hold, a failed payment, a refund, a capacity increase) calls :func:`nudge_sync` or
:func:`nudge_async` after its database commit; the marker is queued only while the tier (or
the event) has fans waiting, and at most one waits at a time.
"""

from __future__ import annotations

from typing import Any

from models.commands import commands, off_loop
from models.keys import Keys, key_slot, slot_tag
from models.redis import scripts
from models.reservations.lease import DRAIN_FLAG_TTL_MS, STALL_MS

#: How a mailbox entry that asks the drainer to make offers ends (reservation ids are UUIDs).
OFFERS_SUFFIX = "-offers"


def offers_marker(event_id: str) -> str:
    """The event's "offers" marker: its slot tag (so the record key the decide script looks up,
    and finds empty, lies in the event's cluster slot) and OFFERS_SUFFIX."""
    return slot_tag(key_slot(str(event_id))) + OFFERS_SUFFIX


def is_offers_marker(entry: str) -> bool:
    return entry.endswith(OFFERS_SUFFIX)

#: Lifetime of the "a marker is queued" flag, in milliseconds: a backstop if a marker is lost
#: with its flag left behind (the sweep nudges events with waiting fans anyway).
OFFERS_FLAG_TTL_MS = 60_000


def _call(redis: Any, keys: Keys, event_id: str, tier_id: str | None) -> Any:
    e = str(event_id)
    return scripts(redis).get("wl_nudge")(
        keys=[keys.waitlist(e), keys.offers_due(e), keys.mailbox(e), keys.drain_flag(e), keys.event_lease(e)],
        args=[tier_id or "", DRAIN_FLAG_TTL_MS, STALL_MS, OFFERS_FLAG_TTL_MS, offers_marker(e)],
    )


def nudge_sync(redis: Any, keys: Keys, event_id: str, tier_id: str | None = None) -> bool:
    """Queue an offers marker if fans wait for ``tier_id`` (any tier if None) and send the drain
    message when one is needed (blocking). Returns True if a marker is queued."""
    result = int(_call(redis, keys, event_id, tier_id))
    if result == 1:
        commands().send_drain(str(event_id))
    return result > 0


async def nudge_async(redis: Any, keys: Keys, event_id: str, tier_id: str | None = None) -> bool:
    """:func:`nudge_sync` for the web tier's asyncio client (the broker send runs off the loop)."""
    result = int(await _call(redis, keys, event_id, tier_id))
    if result == 1:
        await off_loop(commands().send_drain, str(event_id))
    return result > 0


def adjust_waiting(redis: Any, keys: Keys, event_id: str, tier_id: str, delta: int, quantity: int) -> Any:
    """Add ``delta`` to the tier's count of waiting fans and to its count of those waiting for
    ``quantity`` tickets (wl_adjust.lua; sync value or awaitable)."""
    return scripts(redis).get("wl_adjust")(keys=[keys.waitlist(str(event_id))], args=[str(tier_id), delta, quantity])


def smallest_waiting(waitlist: dict[str, str], tier_id: str) -> int | None:
    """The fewest tickets a fan on the tier's waitlist waits for, read from the ``ev:{e}:wl``
    hash (tier -> fans waiting, ``tier:q`` -> of them, those waiting for q); None when nobody
    waits, 1 when some waiting fans' sizes are unknown (the tier then stays closed to new
    requests, as res_decide.lua decides)."""
    waiting = int(waitlist.get(tier_id) or 0)
    if waiting <= 0:
        return None
    sizes = {int(q): int(n) for field, n in waitlist.items() if field.startswith(f"{tier_id}:")
             for q in [field.rpartition(":")[2]] if q.isdigit() and int(n) > 0}
    if not sizes or sum(sizes.values()) < waiting:
        return 1
    return min(sizes)


def open_to_sale(waitlist: dict[str, str], tier_id: str, available: int) -> bool:
    """Whether new requests of the tier may take its free tickets: nobody waits, or what is free
    is fewer tickets than any waiting fan wants (then it goes back to general sale at once)."""
    smallest = smallest_waiting(waitlist, tier_id)
    return smallest is None or available < smallest
