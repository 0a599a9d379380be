"""The end-of-drop checks, read straight from the database (never through the API).

Each check returns human-readable violations; an empty list means the invariant holds.
:func:`check_database` runs them all for one event and also returns a summary for the report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import timedelta

from peewee import fn

from models.tables import AdmissionWave, CheckoutSession, Order, Reservation, Ticket, TicketTier, WaitlistEntry

#: Reservation states a drained drop may end in ("held" must have expired or converted by then).
FINAL_RESERVATION_STATUSES = frozenset({"rejected", "expired", "released", "converted"})
#: Slack when comparing a reservation's time with the wave that admitted its fan, in seconds
#: (the wave row and the reservation row are written by different processes).
ADMISSION_CLOCK_SLACK_S = 5.0


def check_tiers(event_id: str) -> tuple[list[str], list[dict]]:
    """sold <= capacity, sold == sum of paid order quantities, no live holds left, per tier."""
    violations, rows = [], []
    paid = dict(
        Order.select(Order.tier, fn.SUM(Order.quantity))
        .where(Order.event == event_id, Order.status == "paid")
        .group_by(Order.tier)
        .tuples()
    )
    for tier in TicketTier.select().where(TicketTier.event == event_id).order_by(TicketTier.price_cents):
        ordered = int(paid.get(tier.id, 0) or 0)
        rows.append({"tier_id": str(tier.id), "name": tier.name, "capacity": tier.capacity, "sold": tier.sold,
                     "held": tier.held, "ordered": ordered})
        if tier.sold > tier.capacity:
            violations.append(f"tier {tier.name}: sold {tier.sold} > capacity {tier.capacity}")
        if tier.sold + tier.held > tier.capacity or tier.held < 0:
            violations.append(f"tier {tier.name}: sold {tier.sold} + held {tier.held} exceeds capacity {tier.capacity}")
        if tier.sold != ordered:
            violations.append(f"tier {tier.name}: sold counter {tier.sold} != paid order quantities {ordered}")
        if tier.held != 0:
            violations.append(f"tier {tier.name}: {tier.held} tickets still counted as held after the drain")
    return violations, rows


def check_tickets(event_id: str) -> list[str]:
    """No duplicate (order, seq); every paid order has exactly its quantity of tickets, of its tier."""
    violations = []
    dupes = (
        Ticket.select(Ticket.order, Ticket.seq, fn.COUNT(Ticket.id))
        .where(Ticket.event == event_id)
        .group_by(Ticket.order, Ticket.seq)
        .having(fn.COUNT(Ticket.id) > 1)
        .tuples()
    )
    for order_id, seq, count in dupes:
        violations.append(f"order {order_id}: ticket seq {seq} issued {count} times")
    issued = {
        order_id: (count, distinct)
        for order_id, count, distinct in Ticket.select(Ticket.order, fn.COUNT(Ticket.id), fn.COUNT(Ticket.seq.distinct()))
        .where(Ticket.event == event_id)
        .group_by(Ticket.order)
        .tuples()
    }
    orders = Order.select(Order.id, Order.quantity, Order.status, Order.tier).where(Order.event == event_id)
    order_ids = set()
    for order in orders:
        order_ids.add(order.id)
        count, distinct = issued.get(order.id, (0, 0))
        if order.status == "paid" and (count != order.quantity or distinct != order.quantity):
            violations.append(f"paid order {order.id}: {count} tickets ({distinct} distinct seq) for quantity {order.quantity}")
    strays = [oid for oid in issued if oid not in order_ids]
    if strays:
        violations.append(f"{len(strays)} orders of other events own tickets of this event, e.g. {strays[0]}")
    wrong_tier = (
        Ticket.select(fn.COUNT(Ticket.id)).join(Order).where(Ticket.event == event_id, Ticket.tier != Order.tier).scalar()
    )
    if wrong_tier:
        violations.append(f"{wrong_tier} tickets name a tier other than their order's")
    return violations


def check_orders(event_id: str, purchase_limit: int) -> list[str]:
    """Each paid order: its session paid, its reservation converted, same quantity; per-user cap kept."""
    violations = []
    query = (
        Order.select(Order, CheckoutSession, Reservation, TicketTier)
        .join(CheckoutSession)
        .join(Reservation)
        .switch(Order)
        .join(TicketTier)
        .where(Order.event == event_id)
    )
    per_user: Counter[str] = Counter()
    reservations_seen: Counter[str] = Counter()
    for order in query:
        session, reservation = order.session, order.session.reservation
        per_user[order.user_id] += order.quantity
        reservations_seen[str(reservation.id)] += 1
        if session.status != "paid":
            violations.append(f"order {order.id}: session {session.id} is {session.status!r}, not paid")
        if reservation.status != "converted":
            violations.append(f"order {order.id}: reservation {reservation.id} is {reservation.status!r}, not converted")
        if reservation.quantity != order.quantity or reservation.tier_id != order.tier_id:
            violations.append(f"order {order.id}: quantity/tier differ from reservation {reservation.id}")
        if order.user_id != reservation.user_id:
            violations.append(f"order {order.id}: user {order.user_id} differs from reservation owner {reservation.user_id}")
        if order.quantity > order.tier.per_user_limit:
            violations.append(f"order {order.id}: quantity {order.quantity} over the tier limit {order.tier.per_user_limit}")
    for user, total in per_user.items():
        if total > purchase_limit:
            violations.append(f"user {user} bought {total} tickets, over the per-event limit {purchase_limit}")
    for res_id, count in reservations_seen.items():
        if count > 1:
            violations.append(f"reservation {res_id} paid {count} times")
    return violations


def check_reservations(event_id: str) -> tuple[list[str], dict[str, int]]:
    """Every reservation row is in a final state; returns violations and counts by status."""
    counts = dict(
        Reservation.select(Reservation.status, fn.COUNT(Reservation.id))
        .where(Reservation.event == event_id)
        .group_by(Reservation.status)
        .tuples()
    )
    violations = [
        f"{count} reservations still {status!r}"
        for status, count in sorted(counts.items())
        if status not in FINAL_RESERVATION_STATUSES
    ]
    return violations, counts


def check_waves(event_id: str) -> tuple[list[str], list[tuple[int, int, object]]]:
    """Waves start at 1, are contiguous and non-overlapping, and were admitted in position order."""
    waves = list(
        AdmissionWave.select(AdmissionWave.first_position, AdmissionWave.last_position, AdmissionWave.admitted_at)
        .where(AdmissionWave.event == event_id)
        .order_by(AdmissionWave.first_position)
        .tuples()
    )
    violations = []
    expected_first, previous_at = 1, None
    for first, last, admitted_at in waves:
        if first != expected_first:
            kind = "overlaps" if first < expected_first else "leaves a gap before"
            violations.append(f"wave {first}..{last} {kind} position {expected_first}")
        if last < first:
            violations.append(f"wave {first}..{last} is empty or reversed")
        if previous_at is not None and admitted_at < previous_at:
            violations.append(f"wave {first}..{last} was admitted before the wave ahead of it")
        expected_first, previous_at = max(expected_first, last + 1), admitted_at
    return violations, waves


def check_admission_order(event_id: str, positions: Mapping[str, int], waves: list[tuple[int, int, object]],
                          admitted: Mapping[str, int] | None = None) -> list[str]:
    """Nobody reserved before a wave covering their position; no two fans share a position.

    ``positions`` is each fan's last known place; ``admitted`` (default: the same) the place a
    fan held when admitted, which is what its reservations are checked against.
    """
    admitted = positions if admitted is None else admitted
    violations = []
    owners: defaultdict[int, list[str]] = defaultdict(list)
    for user, position in positions.items():
        owners[position].append(user)
    shared = {p: users for p, users in owners.items() if len(users) > 1}
    if shared:
        p, users = next(iter(sorted(shared.items())))
        violations.append(f"{len(shared)} queue positions given to several fans, e.g. {p}: {users[:3]}")
    first_reservation = (
        Reservation.select(Reservation.user_id, fn.MIN(Reservation.created_at))
        .where(Reservation.event == event_id)
        .group_by(Reservation.user_id)
        .tuples()
    )
    early = []
    for user, created_at in first_reservation:
        position = admitted.get(user)
        if position is None:
            continue
        slack = created_at + timedelta(seconds=ADMISSION_CLOCK_SLACK_S) if created_at else None
        up_to = max((last for _, last, at in waves if slack is None or at <= slack), default=0)
        if position > up_to:
            early.append((user, position, up_to))
    if early:
        user, position, admitted = early[0]
        violations.append(f"{len(early)} fans reserved before their wave, e.g. {user} at position {position} "
                          f"when only 1..{admitted} were admitted")
    return violations


def check_database(event_id: str, *, purchase_limit: int, positions: Mapping[str, int] | None = None,
                   admitted: Mapping[str, int] | None = None) -> tuple[list[str], dict]:
    """Run every database invariant for ``event_id`` (the database must be bound).

    Returns ``(violations, summary)``; the summary holds tiers, reservation counts, order and
    ticket totals and the number of waves, for the report.
    """
    violations, tiers = check_tiers(event_id)
    violations += check_tickets(event_id)
    violations += check_orders(event_id, purchase_limit)
    res_violations, reservation_counts = check_reservations(event_id)
    violations += res_violations
    wave_violations, waves = check_waves(event_id)
    violations += wave_violations
    if positions:
        violations += check_admission_order(event_id, positions, waves, admitted)
    summary = {
        "tiers": tiers,
        "reservations": reservation_counts,
        "orders_paid": Order.select().where(Order.event == event_id, Order.status == "paid").count(),
        "tickets": Ticket.select().where(Ticket.event == event_id).count(),
        "waves": len(waves),
        "admitted_up_to": waves[-1][1] if waves else 0,
        "waitlist": waitlist_summary(event_id),
    }
    return violations, summary


def waitlist_summary(event_id: str) -> dict:
    """The waitlist as the database ended it: entries by status, offers made and tickets they sold."""
    entries = WaitlistEntry.select().where(WaitlistEntry.event == event_id)
    by_status = dict(entries.select(WaitlistEntry.status, fn.COUNT(WaitlistEntry.id)).group_by(WaitlistEntry.status).tuples())
    offers_made = entries.where(WaitlistEntry.offered_at.is_null(False)).count()
    sold = (Order.select(fn.COALESCE(fn.SUM(Order.quantity), 0))
            .join(CheckoutSession, on=(Order.session == CheckoutSession.id))
            .join(WaitlistEntry, on=(CheckoutSession.reservation == WaitlistEntry.reservation_id))
            .where(WaitlistEntry.event == event_id, Order.status == "paid").scalar())
    return {"entries": by_status, "offers_made": offers_made, "tickets_sold": int(sold or 0)}


def paid_by_user(event_id: str) -> dict[str, tuple[int, int]]:
    """user id -> (paid tickets ordered, tickets issued) for the event."""
    ordered = dict(
        Order.select(Order.user_id, fn.SUM(Order.quantity)).where(Order.event == event_id, Order.status == "paid")
        .group_by(Order.user_id).tuples()
    )
    issued = dict(
        Ticket.select(Ticket.user_id, fn.COUNT(Ticket.id)).where(Ticket.event == event_id).group_by(Ticket.user_id).tuples()
    )
    return {user: (int(ordered.get(user, 0) or 0), int(issued.get(user, 0))) for user in set(ordered) | set(issued)}


#: Where a simulated fan may end up. Anything else means the fan was left hanging.
FINAL_FAN_OUTCOMES = frozenset({
    "bought",          # paid, tickets fetched
    "payment_failed",  # the simulated card was declined
    "abandoned",       # let the hold lapse on purpose
    "rejected",        # admitted, but every tier was gone when the reservation was decided
    "hold_expired",    # held twice, but each hold lapsed before the payment went through
    "admission_expired",  # admitted, but did not reserve before the admission window lapsed
    "sold_out",        # never admitted: the event sold out first
    "join_refused",    # arrived after the sale closed or sold out (409 at join)
})


def check_fans(fans, paid: Mapping[str, tuple[int, int]]) -> list[str]:
    """Every fan ended in a final state, and what each fan saw matches the database.

    ``fans`` are objects with ``user_id``, ``outcome``, ``quantity``, ``tickets``, ``detail``;
    ``paid`` is :func:`paid_by_user`.
    """
    violations = []
    unfinished = [f for f in fans if f.outcome not in FINAL_FAN_OUTCOMES]
    if unfinished:
        states = Counter(str(f.outcome) for f in unfinished)
        example = unfinished[0]
        violations.append(f"{len(unfinished)} fans never reached a final state {dict(states)}, "
                          f"e.g. {example.user_id}: {example.detail}")
    mismatched, phantom = [], []
    known = set()
    for fan in fans:
        known.add(fan.user_id)
        ordered, issued = paid.get(fan.user_id, (0, 0))
        if fan.outcome == "bought":
            if fan.quantity < 1 or ordered != fan.quantity or issued != fan.quantity or fan.tickets != fan.quantity:
                mismatched.append(f"{fan.user_id} bought {fan.quantity}, saw {fan.tickets} tickets; database: "
                                  f"{ordered} ordered, {issued} issued")
        elif fan.outcome in FINAL_FAN_OUTCOMES and (ordered or issued):
            mismatched.append(f"{fan.user_id} ended {fan.outcome!r} but the database has {ordered} ordered, {issued} issued")
    phantom = [user for user in paid if user not in known]
    if mismatched:
        violations.append(f"{len(mismatched)} fans disagree with the database, e.g. {mismatched[0]}")
    if phantom:
        violations.append(f"{len(phantom)} buyers in the database are not simulated fans, e.g. {phantom[0]}")
    return violations
