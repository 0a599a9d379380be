"""Settling confirmed checkouts in batches: one database transaction per batch of an event.

The web tier records a confirm by moving its session ``open -> processing`` (that row is the
command; nothing is lost if a message is) and sends ``settle_checkouts(event_id)`` unless one is
already on its way (:func:`claim_settle`). A settler takes up to ``limit`` processing sessions of
the event (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two settlers never share one) and, in
one transaction:

- decides each payment (the simulated gateway is deterministic per session, so a redelivered
  batch decides the same way) and refuses the ones it must: the event was canceled or closed,
  the hold lapsed or was released;
- converts the paid holds ``held -> converted`` and releases the refused ones, each a conditional
  UPDATE (``WHERE status = 'held'``), and moves every tier's ``held``/``sold`` once for the batch;
- marks the sessions paid / failed / expired (``WHERE status = 'processing'``);
- inserts the orders (keyed by session) and their tickets (keyed by order and seq).

So a paid order never exists without its tickets, and a batch run twice finds nothing left to
do. After the commit, Redis follows (stock, live slots) and each session's outcome, with the
whole document, is published for the web processes holding ``Prefer: wait`` requests.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models import outcomes, sql
from models.catalog.statuses import FINISHED_STATUSES
from models.checkout import gateway
from models.checkout.documents import document
from models.keys import Keys
from models.metrics import ORDERS_PAID, PAYMENTS_FAILED, TICKETS_ISSUED
from models.reservations.holds import EndedHold, apply_transition
from models.reservations.lease import LeaseKeeper
from models.tables import CheckoutSession, Order, Reservation, Ticket, utcnow
from models.tickets import sign, ticket_summary
from models.waitlist.nudge import nudge_sync

log = logging.getLogger("ticketdrop.checkout")

#: Sessions settled per transaction.
BATCH_SIZE = 200
#: A settler hands over to a fresh message after this long, in seconds (other events get threads).
TIME_BOX_S = 10.0
#: Lifetime of the "a settle message is on its way" flag, in milliseconds. Renewed by every batch;
#: if its settler dies, the next confirm after this long sends a new message (and the sweep
#: settles sessions left processing for ``recovery.STALE_PROCESSING_S``). While a settler works
#: a thread of it renews the flag every FLAG_TTL_MS / 3 (:func:`settle_flag_kept`), so a settler
#: killed with SIGKILL holds its event's confirms up for at most FLAG_TTL_MS. It used to live
#: 15 s: every killed settler stopped its event's payments that long and holds lapsed meanwhile.
FLAG_TTL_MS = 2_000

_SELECT = (
    "SELECT s.id, s.user_id, s.amount_cents, s.simulate, s.created_at, s.reservation_id, r.tier_id, r.quantity, "
    "r.status, r.expires_at, e.status, r.event_id FROM checkout_sessions s "
    "JOIN reservations r ON r.id = s.reservation_id JOIN events e ON e.id = r.event_id "
    "WHERE s.status = 'processing' AND {where} ORDER BY s.updated_at LIMIT ?")


@dataclass
class _Row:
    session_id: str
    user_id: str
    amount_cents: int
    simulate: str | None
    created_at: datetime
    reservation_id: str
    tier_id: str
    quantity: int
    reservation_status: str
    expires_at: datetime | None
    event_status: str
    event_id: str
    #: What this batch decides: paid | failed | expired, and why (failure_reason).
    status: str = ""
    reason: str | None = None
    #: How the hold ends: converted, or released/expired with a reason; None = not held any more.
    hold_to: tuple[str, str | None] | None = None
    order_id: uuid.UUID | None = None
    tickets: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Settled:
    session_id: str
    status: str
    order_id: str | None
    document: dict[str, Any]


def claim_settle(redis: Any, keys: Keys, event_id: str, *, command: Callable[..., Any] | None = None) -> Any:
    """SET the event's settle flag unless set: truthy when the caller must send
    ``settle_checkouts(event_id)`` (sync value, or an awaitable on an async client).
    ``command(*args)`` sends it another way (the web tier's CommandBatcher)."""
    if command is not None:
        return command("SET", keys.settle_flag(event_id), int(time.time() * 1000), "NX", "PX", FLAG_TTL_MS)
    return redis.set(keys.settle_flag(event_id), int(time.time() * 1000), nx=True, px=FLAG_TTL_MS)


def settle_event(rt: Any, event_id: str, resend: Callable[[], None], *, time_box_s: float = TIME_BOX_S) -> int:
    """The ``settle_checkouts`` command: settle the event's processing sessions, batch after
    batch, until none is left or the time box ends (then ``resend()`` hands over).

    Race-free with :func:`claim_settle`: the flag is deleted *before* the last look at the
    database, and a confirm moves its session to processing (committed) *before* it tries the
    flag, so a session is either seen by that look or its confirm finds the flag gone and sends
    a message. Returns how many sessions were settled."""
    flag = rt.keys.settle_flag(event_id)
    deadline = time.monotonic() + time_box_s
    settled = 0
    while True:
        done = len(settle_batch(rt, secret=rt.settings.secret_bytes, event_id=event_id))
        settled += done
        if done:
            if time.monotonic() >= deadline:
                resend()  # the flag stays set: the new message carries on
                return settled
            rt.redis.set(flag, int(time.time() * 1000), px=FLAG_TTL_MS)
            continue
        rt.redis.delete(flag)
        done = len(settle_batch(rt, secret=rt.settings.secret_bytes, event_id=event_id))
        settled += done
        if not done or not claim_settle(rt.redis, rt.keys, event_id):
            return settled  # nothing left, or a confirm sent a new message that carries on


def settle_batch(rt: Any, *, secret: bytes, event_id: str | None = None, session_ids: list[str] | None = None,
                 stale_before: datetime | None = None, limit: int = BATCH_SIZE, now: datetime | None = None) -> list[Settled]:
    """Settle up to ``limit`` processing sessions of ``event_id`` (or the given ``session_ids``,
    or any event's sessions processing since before ``stale_before``: the sweep) in one
    transaction, then make Redis follow and publish the outcomes. Returns what it settled."""
    now = now or utcnow()
    where, args = _filter(event_id, session_ids, stale_before)
    with sql.write_transaction():
        # Batches skip sessions another settler holds; a named session waits for it instead,
        # so its caller reads the decided state rather than "processing".
        lock = sql.lock_rows("s", skip_locked=session_ids is None)
        found = [_Row(*_decode(r)) for r in sql.rows(_SELECT.format(where=where) + lock, [*args, limit])]
        if not found:
            return []
        for row in found:
            _decide(row, now)
        _end_holds(found, now)
        _mark_sessions(found, now)
        _insert_orders_and_tickets(found, secret, now)
    settled = [_settled(row, now) for row in found]
    _after_commit(rt, found, settled)
    return settled


class SettleFlag:
    """The event's settle flag as a :class:`LeaseKeeper` renews it: PEXPIRE pushes an existing
    flag's expiry back and creates none, and renewing goes on until the keeper's block ends,
    because the settler may claim the flag again after its last look."""

    def __init__(self, redis: Any, keys: Keys, event_id: str, ttl_ms: int = FLAG_TTL_MS) -> None:
        self.redis, self.event_id, self.ttl_ms = redis, event_id, ttl_ms
        self.key = keys.settle_flag(event_id)

    def renew(self) -> bool:
        self.redis.pexpire(self.key, self.ttl_ms)
        return True


def settle_flag_kept(rt: Any, event_id: str) -> LeaseKeeper:
    """A context in which a thread renews the event's settle flag every FLAG_TTL_MS / 3: the
    ``settle_checkouts`` actor runs :func:`settle_event` in it, so a live settler keeps one
    message per event however long a batch takes and a killed one lets the flag lapse within
    FLAG_TTL_MS (the next confirm then sends a new message)."""
    return LeaseKeeper(SettleFlag(rt.redis, rt.keys, event_id))


def _filter(event_id: str | None, session_ids: list[str] | None, stale_before: datetime | None) -> tuple[str, list[Any]]:
    if session_ids is not None:
        marks, ids = sql.ids_in(session_ids)
        return f"s.id IN ({marks})", ids
    if event_id is not None:
        return "r.event_id = ?", [sql.uid(event_id)]
    return "s.updated_at <= ?", [CheckoutSession.updated_at.db_value(stale_before or utcnow())]


def _decode(r: tuple) -> tuple:
    (sid, user, amount, simulate, created, rid, tier, quantity, r_status, expires, e_status, event) = r
    return (sql.text_id(sid), user, amount, simulate, sql.value(CheckoutSession.created_at, created), sql.text_id(rid),
            sql.text_id(tier), quantity, r_status, sql.value(Reservation.expires_at, expires), e_status,
            sql.text_id(event))


def _decide(row: _Row, now: datetime) -> None:
    held = row.reservation_status == "held"
    if row.event_status in FINISHED_STATUSES:
        # The organiser stopped the sale (see docs/CHECKOUT.md): nothing is charged, the hold goes back.
        row.status, row.reason = "failed", "event_not_on_sale"
        row.hold_to = ("released", "event_not_on_sale") if held else None
    elif held and row.expires_at is not None and row.expires_at <= now:
        row.status, row.reason, row.hold_to = "expired", "hold_expired", ("expired", "hold_expired")
    elif not held:
        row.status = "expired"
        row.reason = "hold_expired" if row.reservation_status == "expired" else f"reservation_{row.reservation_status}"
    elif gateway.authorize(row.session_id, row.amount_cents, row.simulate).approved:
        row.status, row.hold_to, row.order_id = "paid", ("converted", None), uuid.uuid4()
    else:
        row.status, row.reason = "failed", "payment_declined"
        row.hold_to = ("released", "payment_failed")


def _end_holds(found: list[_Row], now: datetime) -> None:
    """Move each hold out of ``held`` (conditional; the rows that did not move were taken by a
    concurrent release or expiry: their sessions are refused with the true reason), then every
    tier's counters once."""
    groups: dict[tuple[str, str | None], list[_Row]] = defaultdict(list)
    for row in found:
        if row.hold_to is not None:
            groups[row.hold_to].append(row)
    stamp = Reservation.updated_at.db_value(now)
    moved: set[str] = set()
    for (to_status, reason), group in groups.items():
        marks, ids = sql.ids_in(r.reservation_id for r in group)
        extra, extra_args = (" AND expires_at > ?", [stamp]) if to_status == "converted" else ("", [])
        moved.update(sql.text_id(r[0]) for r in sql.rows(
            f"UPDATE reservations SET status = ?, reason = ?, updated_at = ? WHERE id IN ({marks}) AND status = 'held'"
            f"{extra} RETURNING id", [to_status, reason, stamp, *ids, *extra_args]))
    tiers: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # tier -> [leaving held, entering sold]
    for row in found:
        if row.hold_to is None:
            continue
        if row.reservation_id not in moved:
            _raced(row)
            continue
        tiers[row.tier_id][0] += row.quantity
        if row.hold_to[0] == "converted":
            tiers[row.tier_id][1] += row.quantity
    for tier_id, (leaving, sold) in sorted(tiers.items()):  # one lock order for every writer of tiers
        if not sql.execute("UPDATE ticket_tiers SET held = held - ?, sold = sold + ?, updated_at = ? "
                           "WHERE id = ? AND held >= ?", [leaving, sold, stamp, sql.uid(tier_id), leaving]):
            # A broken invariant: roll the whole batch back rather than sell what is not held.
            raise RuntimeError(f"tier {tier_id} holds fewer than the {leaving} tickets this batch ends")


def _raced(row: _Row) -> None:
    """The hold left ``held`` between our read and our update (released, expired, converted)."""
    current = Reservation.select(Reservation.status).where(Reservation.id == row.reservation_id).scalar()
    if row.status == "paid":
        row.status, row.order_id = "expired", None
        row.reason = "hold_expired" if current in ("expired", "held") else f"reservation_{current}"
    row.hold_to = None


def _mark_sessions(found: list[_Row], now: datetime) -> None:
    groups: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for row in found:
        groups[(row.status, row.reason)].append(row.session_id)
    stamp = CheckoutSession.updated_at.db_value(now)
    for (status, reason), ids in groups.items():
        marks, args = sql.ids_in(ids)
        sql.execute(f"UPDATE checkout_sessions SET status = ?, failure_reason = ?, updated_at = ? "
                    f"WHERE id IN ({marks}) AND status = 'processing'", [status, reason, stamp, *args])


_ORDER_COLUMNS = "(id, checkout_session_id, user_id, event_id, tier_id, quantity, amount_cents, status, created_at)"
_TICKET_COLUMNS = "(id, order_id, seq, code, qr_sig, user_id, event_id, tier_id, status, created_at)"


def _insert_orders_and_tickets(found: list[_Row], secret: bytes, now: datetime) -> None:
    paid = [row for row in found if row.status == "paid"]
    if not paid:
        return
    stamp = Order.created_at.db_value(now)
    orders: list[Any] = []
    tickets: list[Any] = []
    for row in paid:
        event, tier, oid = sql.uid(row.event_id), sql.uid(row.tier_id), row.order_id.hex
        orders += [oid, sql.uid(row.session_id), row.user_id, event, tier, row.quantity, row.amount_cents, "paid", stamp]
        for seq in range(1, row.quantity + 1):
            code = uuid.uuid4().hex  # 122 random bits: unguessable, and no issue time leaked
            qr_sig = sign(secret, code, row.event_id, row.tier_id, row.user_id)
            tickets += [uuid.uuid4().hex, oid, seq, code, qr_sig, row.user_id, event, tier, "valid", stamp]
            # An unsaved row, only to render the summary of what was just inserted (no read back).
            row.tickets.append(ticket_summary(Ticket(code=code, seq=seq, qr_sig=qr_sig, event=row.event_id,
                                                     tier=row.tier_id, status="valid")))
    # Keyed inserts: one order per session, one ticket per (order, seq), whatever is redelivered.
    one_order = "(" + sql.params(9) + ")"
    sql.execute(f"INSERT INTO orders {_ORDER_COLUMNS} VALUES " + ", ".join([one_order] * len(paid))
                + " ON CONFLICT (checkout_session_id) DO NOTHING", orders)
    one_ticket = "(" + sql.params(10) + ")"
    sql.execute(f"INSERT INTO tickets {_TICKET_COLUMNS} VALUES " + ", ".join([one_ticket] * (len(tickets) // 10))
                + " ON CONFLICT (order_id, seq) DO NOTHING", tickets)


def _settled(row: _Row, now: datetime) -> Settled:
    doc = document(session_id=row.session_id, reservation_id=row.reservation_id, status=row.status,
                   amount_cents=row.amount_cents, event_id=row.event_id, tier_id=row.tier_id, quantity=row.quantity,
                   expires_at=row.expires_at, simulate=row.simulate, failure_reason=row.reason,
                   order_id=row.order_id, tickets=row.tickets, created_at=row.created_at, updated_at=now)
    return Settled(row.session_id, row.status, str(row.order_id) if row.order_id else None, doc)


def _after_commit(rt: Any, found: list[_Row], settled: list[Settled]) -> None:
    """Redis follows the database (stock, live slots, the records polls read) and every outcome
    is announced, in one round trip. Idempotent: a lost round trip is repaired by the sweep's
    counter rebuild, and pollers read the database."""
    pipe = rt.redis.pipeline(transaction=False)
    counts: Counter[str] = Counter()
    for row, done in zip(found, settled, strict=True):
        counts[row.status] += 1
        if row.hold_to is not None:
            to_status, reason = row.hold_to
            apply_transition(pipe, rt.keys, EndedHold(row.reservation_id, row.event_id, row.tier_id, row.user_id,
                                                      row.quantity, to_status, reason))
        outcomes.queue_publish(pipe, rt.redis, rt.keys, row.session_id, {
            "kind": "checkout", "status": row.status, "order_id": done.order_id, "reason": row.reason,
            "tickets": len(row.tickets), "document": done.document})
    pipe.execute()
    # Failed payments' and lapsed holds' tickets are back: a tier with a waitlist offers them
    # to its next fans (one marker per tier, models/waitlist/nudge.py).
    for event_id, tier_id in {(row.event_id, row.tier_id) for row in found
                              if row.hold_to is not None and row.hold_to[0] != "converted"}:
        nudge_sync(rt.redis, rt.keys, event_id, tier_id)
    ORDERS_PAID.inc(counts["paid"])
    PAYMENTS_FAILED.inc(counts["failed"])
    TICKETS_ISSUED.inc(sum(len(row.tickets) for row in found))
    log.info("checkouts settled", extra={"event_id": found[0].event_id, "batch": len(found), **counts,
                                         "tickets": sum(len(row.tickets) for row in found)})


__all__ = ["BATCH_SIZE", "SettleFlag", "Settled", "claim_settle", "settle_batch", "settle_event", "settle_flag_kept"]
