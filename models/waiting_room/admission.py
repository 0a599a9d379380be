"""Admission as seen by reservations (check_admission, mark_used) and its expiry accounting."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from models import metrics
from models.errors import Forbidden, RoomRestoring
from models.keys import Keys
from models.redis import scripts
from models.settings import Settings
from models.waiting_room import tokens

log = logging.getLogger("ticketdrop.waiting_room")

#: Positions one expiry call examines before handing Redis back to other clients.
EXPIRE_BUDGET = 5_000


@dataclass(frozen=True)
class Admission:
    """A token admitted to reserve: its queue position and when the admission lapses."""

    position: int
    expires_at_ms: int

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at_ms / 1000, tz=UTC)


async def check_admission(redis: Any, keys: Keys, settings: Settings, snapshot: Any, token: str, user_id: str,
                          *, now_ms: int | None = None) -> Admission:
    """The admission of ``token`` for ``user_id`` at the event of ``snapshot`` (async Redis).

    Raises Forbidden with ``reason``: "token_invalid" (malformed, unknown, another event's or
    another user's token), "not_admitted" (still queued), "admission_expired" (the window lapsed).
    Returns the Admission.
    """
    event_id = str(snapshot.id)
    secret = settings.secret_bytes
    tok = tokens.parse(secret, event_id, token)
    if tok is None or not tok.belongs_to(secret, event_id, user_id):
        raise Forbidden("This waiting-room token is not valid for this event and user", field="body.token", reason="token_invalid")
    position, up_to, admitted_at = await scripts(redis).get("room_admission")(
        keys=[keys.room_bucket(event_id, tok.bucket), keys.room(event_id), keys.room_waves(event_id)], args=[tok.field])
    position, up_to, admitted_at = int(position), int(up_to), int(admitted_at)
    if position == -2:
        raise RoomRestoring()
    if position < 0:
        raise Forbidden("This waiting-room token is not valid for this event and user", field="body.token", reason="token_invalid")
    if position == 0 or position > up_to or admitted_at < 0:
        raise Forbidden("Not admitted yet: wait until the waiting room lets you in", field="body.token",
                        reason="not_admitted", position=position or None, admitted_up_to=up_to)
    expires = admitted_at + settings.admission_ttl_s * 1000
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if now_ms >= expires:
        raise Forbidden("Your admission window has lapsed", field="body.token", reason="admission_expired",
                        position=position)
    return Admission(position, expires)


def _mark_used_call(keys: Keys, event_id: str, *positions: int) -> dict:
    return {"keys": [keys.room(event_id), keys.room_used(event_id)], "args": [int(p) for p in positions]}


async def mark_used(redis: Any, keys: Keys, event_id: str, position: int) -> None:
    """Record that the admitted fan at ``position`` reserved (async Redis; idempotent)."""
    await scripts(redis).get("room_mark_used")(**_mark_used_call(keys, str(event_id), position))


def mark_used_sync(redis: Any, keys: Keys, event_id: str, *positions: int) -> None:
    """:func:`mark_used` for a blocking client (workers), for any number of positions in one call."""
    if positions:
        scripts(redis).get("room_mark_used")(**_mark_used_call(keys, str(event_id), *positions))


def expire_event(redis: Any, keys: Keys, event_id: str, now_ms: int, admission_ttl_s: int) -> int:
    """Count the event's admissions that lapsed unused (sync, idempotent). Returns how many."""
    script = scripts(redis).get("room_expire")
    total = 0
    call_keys = [keys.room(event_id), keys.room_waves(event_id), keys.room_used(event_id)]
    while True:
        expired, examined = script(keys=call_keys, args=[now_ms, admission_ttl_s * 1000, EXPIRE_BUDGET])
        total += int(expired)
        if int(examined) < EXPIRE_BUDGET:
            break
    if total:
        metrics.ADMISSIONS_EXPIRED.inc(total)
        log.info("admissions expired", extra={"event_id": event_id, "count": total})
    return total


def expire_admissions(rt: Any, *, now_ms: int | None = None) -> int:
    """Expiry accounting over every selling event (sync, idempotent; the sweep calls it).
    Returns the number of admissions newly counted as expired."""
    from models.waiting_room.sales import selling_events

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    s = rt.settings
    return sum(expire_event(rt.redis, rt.keys, e.id, now_ms, s.admission_ttl_s)
               for e in selling_events(now_ms, s.wave_size, s.wave_interval_s))
