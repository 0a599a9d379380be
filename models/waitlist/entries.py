"""The fan's side of the waitlist: join a sold-out tier's waitlist, see it (with any offer),
leave it. Joins and leaves are checked here at once; offers are the drainer's (offers.py).

``run_blocking(fn, *args, **kwargs)`` runs blocking database code (the web tier's executor).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models import sql
from models.catalog.statuses import SELLING_STATUSES
from models.errors import Conflict, EventNotOnSale, LimitExceeded, NotFound, ValidationFailed
from models.keys import Keys
from models.reservations.counters import database_stock
from models.reservations.holds import EndedHold, apply_transition, release_in_db
from models.settings import Settings
from models.tables import QueueEntry, Reservation, WaitlistEntry, utcnow
from models.timestamps import iso
from models.waiting_room import tokens
from models.waitlist.lines import LINES, WaitingLines
from models.waitlist.nudge import adjust_waiting, nudge_async, open_to_sale

RunBlocking = Callable[..., Awaitable[Any]]
#: Fans who never queued rank after every waiting-room place, in the order they joined:
#: rank = this + the join time in ms (places are far below 2**42).
NOT_QUEUED_RANK = 1 << 42
#: Statuses in which an entry holds a place (a join answers the existing one).
ACTIVE_STATUSES = ("waiting", "offered")


@dataclass(frozen=True)
class Joined:
    entry: dict[str, Any]
    #: False: the fan's existing entry of this tier was returned.
    created: bool


async def join(redis: Any, keys: Keys, settings: Settings, snapshot: Any, *, user_id: str, tier_id: str, quantity: int,
               run_blocking: RunBlocking) -> Joined:
    """Put ``user_id`` on the waitlist of ``tier_id``.

    Raises NotFound (tier), EventNotOnSale (409: closed, canceled, draft), ValidationFailed (422:
    quantity over the tier's per_user_limit), LimitExceeded (409: the per-event cap counts held,
    bought and this quantity), Conflict (409 ``not_sold_out`` with ``remaining``: the tier can
    still sell this quantity). Returns Joined: the new entry (created) or the fan's existing one.
    """
    tier = snapshot.tier(tier_id)
    if tier is None:
        raise NotFound(f"No tier {tier_id} in event {snapshot.id}", field="tier_id")
    if snapshot.status not in SELLING_STATUSES:
        raise EventNotOnSale(f"The event is {snapshot.status}: its waitlists are closed", field="id",
                             event_id=snapshot.id, event_status=snapshot.status)
    if quantity > tier.per_user_limit:
        raise ValidationFailed(f"quantity must be between 1 and {tier.per_user_limit} for this tier", field="quantity",
                               per_user_limit=tier.per_user_limit)
    existing = await run_blocking(active_entry, tier_id, user_id)
    if existing is not None:
        return Joined(existing, created=False)
    pipe = redis.pipeline(transaction=False)
    pipe.hget(keys.stock(snapshot.id), tier_id)
    pipe.hgetall(keys.waitlist(snapshot.id))
    pipe.hget(keys.user_counts(snapshot.id), user_id)
    available, waitlist, counted = await pipe.execute()
    if available is None:  # counters lost: the database's figure
        available = (await run_blocking(database_stock, snapshot.id)).get(tier_id, (0, 0))[0]
    available, counted = int(available), int(counted or 0)
    limit = settings.event_purchase_limit
    if counted + quantity > limit:
        raise LimitExceeded(f"{counted} of your {limit} tickets for this event are held or bought; {quantity} more "
                            f"would pass the limit", field="quantity", limit=limit, counted=counted)
    if available >= quantity and open_to_sale(waitlist or {}, tier_id, available):
        raise Conflict(f"{available} tickets of this tier are still on sale: reserve them instead", field="tier_id",
                       reason="not_sold_out", remaining=available)
    position = await _queue_position(redis, keys, settings, snapshot.id, user_id, run_blocking)
    entry_id, created = await run_blocking(_join_row, snapshot.id, tier_id, user_id, quantity, position)
    if created:  # a created (or reopened) entry wants this join's quantity
        await adjust_waiting(redis, keys, snapshot.id, tier_id, 1, quantity)
        if available > 0:  # something is free already: the drainer offers it if this fan fits
            await nudge_async(redis, keys, snapshot.id, tier_id)
    return Joined(await run_blocking(entry_document, entry_id), created=created)


async def _queue_position(redis: Any, keys: Keys, settings: Settings, event_id: str, user_id: str,
                          run_blocking: RunBlocking) -> int | None:
    """The fan's place in the event's waiting room (its Redis bucket, else the copy in the
    database), or None if the fan never queued (or joined the pre-queue before the draw)."""
    field = tokens.field_of_user(settings.secret_bytes, event_id, user_id)
    raw = await redis.hget(keys.room_bucket(event_id, tokens.bucket_of_field(field)), field)
    if raw is None:
        raw = await run_blocking(_stored_position, event_id, field)
    position = int(raw) if raw is not None else 0
    return position if position > 0 else None


def _stored_position(event_id: str, field: str) -> int | None:
    return (QueueEntry.select(QueueEntry.position)
            .where(QueueEntry.event == event_id, QueueEntry.field == field).scalar())


def active_entry(tier_id: str, user_id: str, *, lines: WaitingLines = LINES) -> dict[str, Any] | None:
    """The fan's waiting or offered entry of the tier, as a document, or None (blocking; one
    statement, and the tier's line when it is due: see :func:`_documents`)."""
    docs = _documents(_ACTIVE_ENTRY, [sql.uid(tier_id), user_id], None, lines)
    return docs[0] if docs else None


def _join_row(event_id: str, tier_id: str, user_id: str, quantity: int, position: int | None,
              *, now: datetime | None = None) -> tuple[uuid.UUID, bool]:
    """Insert the fan's entry, or reopen one the fan left (or whose offer lapsed or was taken) at
    the back of the line: a waiting-room place ranks only the first join. Returns (entry id,
    created); a concurrent join of the same fan and tier makes exactly one of them create it. A
    first join is one statement: the INSERT, which a fan's existing entry of the tier makes a no-op."""
    now = now or utcnow()
    arrival = NOT_QUEUED_RANK + int(now.timestamp() * 1000)
    new_id = uuid.uuid4()
    if (WaitlistEntry.insert(id=new_id, event=event_id, tier=tier_id, user_id=user_id, quantity=quantity,
                             position=position, rank=position or arrival, status="waiting", created_at=now, updated_at=now)
            .on_conflict_ignore().as_rowcount().execute()):
        return new_id, True
    previous = WaitlistEntry.get(WaitlistEntry.tier == tier_id, WaitlistEntry.user_id == user_id)
    if previous.status in ACTIVE_STATUSES:
        return previous.id, False
    reopened = (WaitlistEntry.update(status="waiting", quantity=quantity, position=position, rank=arrival,
                                     reservation_id=None, offered_at=None, offer_expires_at=None, created_at=now,
                                     updated_at=now)
                .where(WaitlistEntry.id == previous.id, WaitlistEntry.status == previous.status).execute())
    return previous.id, bool(reopened)


def entry_document(entry_id: str | uuid.UUID, *, now: datetime | None = None,
                   lines: WaitingLines = LINES) -> dict[str, Any]:
    """One entry as its fan sees it (blocking). Raises NotFound."""
    docs = _documents(_ENTRY, [sql.uid(entry_id)], now, lines)
    if not docs:
        raise NotFound(f"No waitlist entry {entry_id}", field="id")
    return docs[0]


def user_entries(user_id: str, *, now: datetime | None = None, lines: WaitingLines = LINES) -> list[dict[str, Any]]:
    """Every waitlist entry of ``user_id``, newest first (blocking)."""
    return _documents(_USER_ENTRIES, [user_id], now, lines)


#: An entry with its event, tier and current offer's hold: written by hand, as the purchase
#: path's statements are (models/sql.py), because this one is polled by every fan on a
#: waitlist every few seconds after a sell-out, and building it with Peewee cost 430 of the
#: 500 µs of Python a poll took; and prepared, because PostgreSQL spent ~150 µs planning the
#: join and ~40 running it (``python -m bench.waitlist``).
_DOCUMENTS_SQL = (
    "SELECT w.id, w.event_id, w.tier_id, w.quantity, w.position, w.rank, w.status, w.reservation_id, w.created_at, "
    "e.name, e.status, t.name, t.price_cents, h.status, h.expires_at "
    "FROM waitlist_entries w JOIN events e ON e.id = w.event_id JOIN ticket_tiers t ON t.id = w.tier_id "
    "LEFT JOIN reservations h ON h.id = w.reservation_id "
    "WHERE {where} ORDER BY w.created_at DESC, w.id")
_USER_ENTRIES = sql.Prepared("waitlist_user_entries", _DOCUMENTS_SQL.format(where="w.user_id = ?"))
_ENTRY = sql.Prepared("waitlist_entry", _DOCUMENTS_SQL.format(where="w.id = ?"))
_ACTIVE_ENTRY = sql.Prepared("waitlist_active_entry", _DOCUMENTS_SQL.format(
    where="w.tier_id = ? AND w.user_id = ? AND w.status IN (" + ", ".join(f"'{s}'" for s in ACTIVE_STATUSES) + ")"))


def _documents(statement: sql.Prepared, args: list[Any], now: datetime | None,
               lines: WaitingLines) -> list[dict[str, Any]]:
    """The documents of the entries ``statement`` (one of the three above) selects with
    ``args``: one statement, and for a waiting entry the fans ahead of it from its tier's line
    (models/waitlist/lines.py: a second statement at most once a second per tier and process)."""
    now = now or utcnow()
    docs = []
    for (entry_id, event_id, tier_id, quantity, position, rank, status, reservation_id, created_at, event_name,
         event_status, tier_name, price_cents, hold_status, expires_at) in statement.rows(args):
        entry_id = WaitlistEntry.id.python_value(entry_id)
        event_id, tier_id = sql.text_id(event_id), sql.text_id(tier_id)
        ahead, offer = None, None
        if status == "waiting":
            ahead = lines.ahead(tier_id, rank, entry_id)
        elif status == "offered":
            expires_at = sql.value(Reservation.expires_at, expires_at)
            if hold_status == "converted":
                status = "purchased"
            elif hold_status != "held" or expires_at is None or expires_at <= now:
                status = "lapsed"
            else:
                reservation_id = sql.text_id(reservation_id)
                offer = {"reservation_id": reservation_id, "quantity": quantity, "expires_at": iso(expires_at),
                         "checkout_path": f"/reservations/{reservation_id}"}
        docs.append({
            "id": str(entry_id), "event_id": event_id, "tier_id": tier_id, "quantity": quantity,
            "status": status, "position": position, "ahead": ahead,
            "joined_at": iso(sql.value(WaitlistEntry.created_at, created_at)), "offer": offer,
            "event": {"id": event_id, "name": event_name, "status": event_status},
            "tier": {"id": tier_id, "name": tier_name, "price_cents": price_cents},
        })
    return docs


@dataclass(frozen=True)
class Left:
    document: dict[str, Any]
    event_id: str
    tier_id: str
    #: The entry was waiting (the tier's waiting count drops by one).
    was_waiting: bool
    #: The offer hold this leave released (Redis must follow, the next fan gets the tickets).
    released: EndedHold | None


def leave_in_db(user_id: str, entry_id: str | uuid.UUID) -> Left:
    """Take the fan off the waitlist; an outstanding offer's hold is released (blocking).
    Idempotent. Raises NotFound (404, path.id) for unknown ids and other fans' entries, Conflict
    (409) once the offer was bought."""
    entry = WaitlistEntry.get_or_none(WaitlistEntry.id == entry_id)
    if entry is None or entry.user_id != user_id:
        raise NotFound(f"No waitlist entry {entry_id} of yours", field="id")
    was_waiting, released = False, None
    if entry.status == "purchased":
        raise Conflict("The offer was bought: cancel the order instead", field="id", reason="offer_purchased")
    if entry.status in ACTIVE_STATUSES:
        moved = (WaitlistEntry.update(status="left", updated_at=utcnow())
                 .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == entry.status).execute())
        if not moved:
            return leave_in_db(user_id, entry_id)  # an offer was made or settled meanwhile: look again
        was_waiting = entry.status == "waiting"
        if entry.status == "offered" and entry.reservation_id is not None:
            released = release_in_db(str(entry.reservation_id), to_status="released", reason="waitlist_left")
    return Left(entry_document(entry.id), str(entry.event_id), str(entry.tier_id), was_waiting, released)


async def leave(redis: Any, keys: Keys, user_id: str, entry_id: str, run_blocking: RunBlocking) -> dict[str, Any]:
    """:func:`leave_in_db`, then Redis follows: one fewer fan waiting, the released offer's
    tickets back in stock and offered to the next fan. Returns the entry's document."""
    left = await run_blocking(leave_in_db, user_id, entry_id)
    if left.was_waiting:
        await adjust_waiting(redis, keys, left.event_id, left.tier_id, -1, left.document["quantity"])
    if left.released is not None:
        await apply_transition(redis, keys, left.released)
        await nudge_async(redis, keys, left.event_id, left.tier_id)
    return left.document
