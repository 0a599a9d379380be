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
from models.waiting_room.sales import selling_events

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


@dataclass(frozen=True)
class AdmissionQuery:
    """What a Lua script needs to judge a token's admission (lib_admission.lua): the keys of its
    bucket, room and waves (one hash slot: the event's) and the args (field, now ms, window ms)."""

    keys: list[str]
    field: str
    window_ms: int


def admission_query(keys: Keys, settings: Settings, event_id: str, token: str, user_id: str) -> AdmissionQuery:
    """The query for ``token`` of ``user_id`` at ``event_id``, once its signature is checked here.

    Raises Forbidden (reason "token_invalid") for a malformed token or another event's or user's.
    """
    secret = settings.secret_bytes
    tok = tokens.parse(secret, event_id, token)
    if tok is None or not tok.belongs_to(secret, event_id, user_id):
        raise Forbidden("This waiting-room token is not valid for this event and user", field="token", reason="token_invalid")
    return AdmissionQuery([keys.room_bucket(event_id, tok.bucket), keys.room(event_id), keys.room_waves(event_id)],
                          tok.field, settings.admission_ttl_s * 1000)


def admitted(verdict: str, position: Any, up_to: Any, admitted_at: Any, window_ms: int) -> Admission:
    """The Admission of a script's verdict (lib_admission.lua's four values).

    Raises RoomRestoring (503), or Forbidden with ``reason`` "token_invalid" (unknown token),
    "not_admitted" (still queued) or "admission_expired" (the window lapsed).
    """
    position, up_to = int(position), int(up_to)
    if verdict == "admitted":
        return Admission(position, int(admitted_at) + window_ms)
    if verdict == "restoring":
        raise RoomRestoring()
    if verdict == "not_admitted":
        raise Forbidden("Not admitted yet: wait until the waiting room lets you in", field="token",
                        reason="not_admitted", position=position or None, admitted_up_to=up_to)
    if verdict == "admission_expired":
        raise Forbidden("Your admission window has lapsed", field="token", reason="admission_expired",
                        position=position)
    raise Forbidden("This waiting-room token is not valid for this event and user", field="token", reason="token_invalid")


async def check_admission(redis: Any, keys: Keys, settings: Settings, snapshot: Any, token: str, user_id: str,
                          *, now_ms: int | None = None) -> Admission:
    """The admission of ``token`` for ``user_id`` at the event of ``snapshot`` (async Redis).

    A reservation request does not call this: res_enqueue.lua judges the admission in the call
    that queues it (models.reservations.service.submit). Raises Forbidden with ``reason``:
    "token_invalid" (malformed, unknown, another event's or another user's token),
    "not_admitted" (still queued), "admission_expired" (the window lapsed); RoomRestoring.
    Returns the Admission.
    """
    query = admission_query(keys, settings, str(snapshot.id), token, user_id)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    reply = await scripts(redis).get("room_admission")(keys=query.keys, args=[query.field, now_ms, query.window_ms])
    return admitted(*reply, query.window_ms)


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
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    s = rt.settings
    return sum(expire_event(rt.redis, rt.keys, e.id, now_ms, s.admission_ttl_s)
               for e in selling_events(now_ms, s.wave_size, s.wave_interval_s))
