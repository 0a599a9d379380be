"""What a fan's status poll says: a pure function of the event, the room view, the fan's
stored position and the clock (so every rule here is tested without Redis or HTTP)."""

from __future__ import annotations

import hashlib
import zlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from models.catalog.snapshot import EventSnapshot
from models.catalog.statuses import FINISHED_STATUSES
from models.timestamps import iso
from models.waiting_room import eta
from models.waiting_room.room import RoomView


def on_sale_ms(event: EventSnapshot) -> int:
    cached = getattr(event, "on_sale_ms", None)  # EventSnapshot computes it once; a bare row has none
    return cached if isinstance(cached, int) else int(event.on_sale_at.timestamp() * 1000)


def room_state(event: EventSnapshot, view: RoomView, now_ms: int) -> str:
    """closed | sold_out | waiting (before on-sale) | paused | sale_open."""
    if event.status in FINISHED_STATUSES:
        return "closed"
    if view.stock.sold_out:
        return "sold_out"
    if now_ms < on_sale_ms(event):
        return "waiting"
    if event.paused:
        return "paused"
    return "sale_open"


def admission_of(position: int, view: RoomView, now_ms: int, admission_ttl_s: int) -> tuple[str, int | None]:
    """("queued" | "admitted" | "expired", admission expiry in ms or None) for a position (0 = not drawn)."""
    if position < 1 or position > view.counters.up_to:
        return "queued", None
    wave = view.wave_of(position)
    if wave is None:  # admitted by a wave this view has not read yet: treat as just admitted
        return "admitted", now_ms + admission_ttl_s * 1000
    expires = wave.admitted_at_ms + admission_ttl_s * 1000
    return ("admitted" if now_ms < expires else "expired"), expires


@lru_cache(maxsize=4096)
def _iso(ms: int | None) -> str | None:
    # An admission expiry is the same for every fan of a wave: written once per wave, not per
    # poll, and as text, so the document's encoder never calls back into Python (web/responses.py).
    return None if ms is None else iso(datetime.fromtimestamp(ms / 1000, tz=UTC))


class RoomFacts:
    """What every fan's status shares for one event snapshot and one room view: read from
    both once (per view, so at most every RoomCache.MAX_AGE_S) instead of on every poll."""

    __slots__ = ("event", "on_sale_at", "sale_ms", "finished", "sold_out", "paused", "up_to", "total",
                 "generation", "epoch", "interval_ms", "next_due_ms", "pace", "next_wave_ms")

    def __init__(self, event: EventSnapshot, view: RoomView) -> None:
        self.event = event
        self.on_sale_at = iso(event.on_sale_at)  # text: see _iso
        self.sale_ms = on_sale_ms(event)
        self.finished = event.status in FINISHED_STATUSES
        self.sold_out = view.stock.sold_out
        self.paused = event.paused
        counters = view.counters
        self.up_to = counters.up_to
        self.total = counters.total
        self.generation = counters.live_since_ms
        self.epoch = view.epoch
        self.interval_ms = int(event.wave_interval_s * 1000)
        self.next_due_ms = counters.next_due_ms
        self.pace = view.pace(event.wave_size, event.wave_interval_s)
        self.next_wave_ms = eta.next_wave_ms(view.last_wave, self.pace, self.sale_ms)

    def state(self, now_ms: int) -> str:
        """closed | sold_out | waiting (before on-sale) | paused | sale_open (see room_state)."""
        if self.finished:
            return "closed"
        if self.sold_out:
            return "sold_out"
        if now_ms < self.sale_ms:
            return "waiting"
        return "paused" if self.paused else "sale_open"


def facts_of(event: EventSnapshot, view: RoomView) -> RoomFacts:
    """The RoomFacts of ``event`` and ``view``, made once per pair (kept in the view's memo)."""
    facts = view.memo.get(RoomFacts)
    if facts is None or facts.event is not event:
        facts = view.memo[RoomFacts] = RoomFacts(event, view)
    return facts


def describe(event: EventSnapshot, view: RoomView, position: int, now_ms: int, admission_ttl_s: int) -> dict[str, Any]:
    """The status document for a fan whose stored position is ``position`` (0 = pre-queue, not drawn)."""
    return answer(event, view, position, now_ms, admission_ttl_s).document


class Answer(NamedTuple):
    """A document with what an HTTP cache needs: its validator and how long it stays true.
    (A named tuple: made on every status poll, where a frozen dataclass cost three times as much.)"""

    document: dict[str, Any]
    etag: str
    #: Cache-Control max-age, in whole seconds (0: revalidate every time).
    max_age_s: int


#: Builds an Answer without the named tuple's generated ``__new__`` (a Python frame per poll).
_new_answer = tuple.__new__


def answer(event: EventSnapshot, view: RoomView, position: int, now_ms: int, admission_ttl_s: int) -> Answer:
    """The status document of the fan at ``position``, its weak ETag and its max-age in seconds,
    in one pass over the view's RoomFacts (the poll's hot path)."""
    f = facts_of(event, view)
    state = f.state(now_ms)
    up_to = f.up_to
    known = position >= 1
    expires_ms: int | None = None
    expires_at: str | None = None
    eta_s: int | None = None
    if not known or position > up_to:
        admission = "queued"
        if known and (state == "sale_open" or state == "waiting"):
            eta_s = eta.eta_seconds(position, up_to, f.pace, now_ms, f.next_wave_ms)
    else:
        admission, expires_ms = admission_of(position, view, now_ms, admission_ttl_s)
        if admission == "admitted":
            eta_s = 0
        expires_at = _iso(expires_ms)
    can_enter = state == "sale_open" and admission == "admitted"
    # The room view is cached for a moment; a fan who just joined is never beyond the total.
    total = f.total if f.total >= position else position
    ahead = (position - up_to - 1 if position > up_to else 0) if known else None
    seconds_until = (f.sale_ms - now_ms + 999) // 1000
    document = {
        "state": state,
        "onSaleAt": f.on_sale_at,
        "secondsUntilOnSale": seconds_until if seconds_until > 0 else 0,
        "position": position if known else None,
        "total": total,
        "aheadOfYou": ahead,
        "canEnter": can_enter,
        "etaSeconds": eta_s,
        "admission": admission,
        "admissionExpiresAt": expires_at,
        "roomGeneration": f.generation,
    }
    etag = _tag(state, position if known else -1, total, -1 if ahead is None else ahead, can_enter, admission,
                expires_at, f.generation, f.epoch)
    return _new_answer(Answer, (document, etag, _max_age(f, now_ms, expires_ms)))


# -- HTTP caching: how long an answer stays true, and a validator that changes with it ---------

def max_age_s(event: EventSnapshot, view: RoomView, now_ms: int, admission_expires_ms: int | None = None) -> int:
    """Whole seconds (Cache-Control max-age) an answer given now may be reused: until the next
    wave is due, on-sale, or the fan's admission expiry, whichever comes first, rounded up, and
    never more than one wave interval (rounded down), so a cached copy shows a new wave, a pause
    or a resume at most one tick late. An overdue wave (the tick is running, or this view
    missed it) allows one interval. 0 (revalidate every time) when the interval is under 1 s."""
    return _max_age(facts_of(event, view), now_ms, admission_expires_ms)


def _max_age(f: RoomFacts, now_ms: int, admission_expires_ms: int | None) -> int:
    interval_ms = f.interval_ms
    if interval_ms < 1000:
        return 0
    # Comparisons rather than min(): every status and progress poll comes here.
    limit = interval_ms
    if now_ms < f.sale_ms:
        if f.sale_ms - now_ms < limit:
            limit = f.sale_ms - now_ms
    elif not f.finished and not f.sold_out:
        due = f.next_due_ms
        if now_ms < due < now_ms + limit:
            limit = due - now_ms
    if admission_expires_ms is not None and now_ms < admission_expires_ms < now_ms + limit:
        limit = admission_expires_ms - now_ms
    seconds, most = -(-limit // 1000), interval_ms // 1000
    return seconds if seconds < most else most


#: The status document's words as small integers, for :func:`validator`'s key (a str's hash is
#: seeded per process; an int's is not).
_CODES = {word: i for i, word in enumerate(("waiting", "sale_open", "paused", "sold_out", "closed",
                                            "queued", "admitted", "expired"))}


def validator(document: dict[str, Any], epoch: int) -> str:
    """A weak ETag (RFC 9110 8.8.1) of a status document: it changes whenever anything in it
    changes except the two countdowns (``secondsUntilOnSale``, ``etaSeconds``), which a client
    counts down itself between answers.

    The hash of a tuple of ints: CPython does not seed it (unlike a str's), so every web process
    of one Python gives the same ETag, for less than a BLAKE2 digest of the same fields
    formatted as text (the largest self time of a repeat poll in our own code:
    docs/benchmarks.md). The admission expiry (ISO text, or None) counts by its CRC-32.
    A change of any one integer field (in the ranges a status holds) always changes the
    tuple's hash (each step is invertible); two answers differing only in admission expiries
    whose CRC-32s collide would share an ETag (a 304 for a changed document): a 1 in 2^32
    chance per pair of expiries."""
    position, ahead = document["position"], document["aheadOfYou"]
    return _tag(document["state"], -1 if position is None else position, document["total"],
                -1 if ahead is None else ahead, document["canEnter"], document["admission"],
                document["admissionExpiresAt"], document["roomGeneration"], epoch)


def _tag(state: str, position: int, total: int, ahead: int, can_enter: bool, admission: str, expires: str | None,
         generation: int, epoch: int) -> str:
    # validator()'s ETag from the document's fields (answer() passes them without a dict).
    key = (_CODES[state], position, total, ahead, can_enter, _CODES[admission],
           -1 if expires is None else _crc32(expires), generation, epoch)
    return f'W/"{hash(key) & 0xFFFFFFFFFFFFFFFF:016x}"'


@lru_cache(maxsize=4096)
def _crc32(text: str) -> int:
    # An admission expiry is shared by every fan of a wave (see _iso).
    return zlib.crc32(text.encode())


def _digest(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


def progress(event: EventSnapshot, view: RoomView, now_ms: int) -> dict[str, Any]:
    """The room-wide part of every fan's status, the same for all of them (one cache entry per
    event at the edge): a fan who knows its position computes ``aheadOfYou`` (position -
    admittedThrough - 1) and reads its own status again once ``admittedThrough >= position``."""
    sale_ms = on_sale_ms(event)
    state = room_state(event, view, now_ms)
    pace = view.pace(event.wave_size, event.wave_interval_s)
    next_ms = eta.next_wave_ms(view.last_wave, pace, sale_ms) if state in ("waiting", "sale_open") else None
    return {
        "state": state,
        "onSaleAt": event.on_sale_at,
        "total": view.counters.total,
        "drawn": view.counters.opened,
        "admittedThrough": view.counters.up_to,
        "positionsPerMinute": round(pace.rate_per_s * 60, 1),
        "nextWaveAt": _iso(next_ms),
        "roomGeneration": view.counters.live_since_ms,
    }


def progress_answer(event: EventSnapshot, view: RoomView, now_ms: int) -> Answer:
    """The progress document with its strong ETag and max-age. The document and its ETag are
    made once per view and state (every fan's poll shares them; the caller must not change the
    document), the max-age per call."""
    f = facts_of(event, view)
    state = f.state(now_ms)
    key = (progress_answer, state)
    made = view.memo.get(key)
    if made is None or made[0] is not event:
        document = progress(event, view, now_ms)
        made = view.memo[key] = (event, document, progress_validator(document, view.epoch))
    return Answer(made[1], made[2], _max_age(f, now_ms, None))


def progress_validator(document: dict[str, Any], epoch: int) -> str:
    """A strong ETag of a progress document (it has no countdowns)."""
    key = (f"{document['state']}|{document['total']}|{document['drawn']}|{document['admittedThrough']}|"
           f"{document['positionsPerMinute']}|{document['nextWaveAt']}|{document['roomGeneration']}|{epoch}")
    return f'"{_digest(key)}"'



def fairness_validator(document: dict[str, Any]) -> str:
    """A strong ETag of a fairness document (GET .../fairness): it changes once, at the reveal."""
    key = f"{document['commitment']}|{document['salt']}|{document['prequeue_size']}"
    return f'"{_digest(key)}"'
