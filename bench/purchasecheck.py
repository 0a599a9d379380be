"""The purchase benchmark's end check, read from the database: no oversell, no duplicate ticket,
every paid order complete.

:func:`violations` is pure (rows in, messages out); :func:`read_rows` reads the rows of one
event with the database bound. Checked per event:

- per tier: sold <= capacity, held >= 0, sold + held <= capacity, and sold equals the
  quantities of the tier's paid orders;
- tickets: ids unique, codes unique, (order, seq) unique, each ticket's order exists, is paid,
  and has the ticket's tier;
- every paid order has exactly ``quantity`` tickets, with seq 1..quantity.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TierRow:
    id: str
    name: str
    capacity: int
    sold: int
    held: int


@dataclass(frozen=True)
class OrderRow:
    id: str
    tier_id: str
    quantity: int
    status: str


@dataclass(frozen=True)
class TicketRow:
    id: str
    order_id: str
    tier_id: str
    seq: int
    code: str


def _first(items: Iterable[str], limit: int = 3) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def violations(tiers: list[TierRow], orders: list[OrderRow], tickets: list[TicketRow]) -> list[str]:
    """Every broken invariant as a sentence; an empty list means the sale was sound."""
    found: list[str] = []
    paid = {o.id: o for o in orders if o.status == "paid"}
    orders_by_id = {o.id: o for o in orders}
    paid_per_tier: Counter[str] = Counter()
    for order in paid.values():
        paid_per_tier[order.tier_id] += order.quantity
    for tier in tiers:
        if tier.sold > tier.capacity:
            found.append(f"tier {tier.name}: oversold, sold {tier.sold} > capacity {tier.capacity}")
        if tier.held < 0:
            found.append(f"tier {tier.name}: held is negative ({tier.held})")
        if tier.sold + tier.held > tier.capacity:
            found.append(f"tier {tier.name}: sold {tier.sold} + held {tier.held} > capacity {tier.capacity}")
        if tier.sold != paid_per_tier[tier.id]:
            found.append(f"tier {tier.name}: sold counter {tier.sold} != paid order quantities {paid_per_tier[tier.id]}")
    for what, values in (("ticket id", [t.id for t in tickets]), ("ticket code", [t.code for t in tickets]),
                         ("(order, seq)", [f"{t.order_id}#{t.seq}" for t in tickets])):
        dupes = [v for v, n in Counter(values).items() if n > 1]
        if dupes:
            found.append(f"{len(dupes)} duplicate {what}s, e.g. {_first(dupes)}")
    per_order: defaultdict[str, list[TicketRow]] = defaultdict(list)
    for ticket in tickets:
        per_order[ticket.order_id].append(ticket)
    orphans = [t.id for t in tickets if t.order_id not in orders_by_id]
    if orphans:
        found.append(f"{len(orphans)} tickets belong to no order of the event, e.g. {_first(orphans)}")
    unpaid = [t.id for t in tickets if t.order_id in orders_by_id and t.order_id not in paid]
    if unpaid:
        found.append(f"{len(unpaid)} tickets belong to orders that are not paid, e.g. {_first(unpaid)}")
    wrong_tier = [t.id for t in tickets if t.order_id in orders_by_id and orders_by_id[t.order_id].tier_id != t.tier_id]
    if wrong_tier:
        found.append(f"{len(wrong_tier)} tickets name a tier other than their order's, e.g. {_first(wrong_tier)}")
    incomplete = []
    for order in paid.values():
        seqs = sorted({t.seq for t in per_order.get(order.id, [])})
        if len(per_order.get(order.id, [])) != order.quantity or seqs != list(range(1, order.quantity + 1)):
            incomplete.append(f"{order.id} ({len(per_order.get(order.id, []))} of {order.quantity})")
    if incomplete:
        found.append(f"{len(incomplete)} paid orders do not have exactly their tickets, e.g. {_first(incomplete)}")
    return found


def read_rows(event_id: str) -> tuple[list[TierRow], list[OrderRow], list[TicketRow]]:
    """The event's tiers, orders and tickets (the database must be bound)."""
    from models.tables import Order, Ticket, TicketTier

    tiers = [TierRow(str(i), n, c, s, h) for i, n, c, s, h in TicketTier.select(
        TicketTier.id, TicketTier.name, TicketTier.capacity, TicketTier.sold, TicketTier.held)
        .where(TicketTier.event == event_id).tuples()]
    orders = [OrderRow(str(i), str(t), q, s) for i, t, q, s in Order.select(
        Order.id, Order.tier, Order.quantity, Order.status).where(Order.event == event_id).tuples()]
    tickets = [TicketRow(str(i), str(o), str(t), s, c) for i, o, t, s, c in Ticket.select(
        Ticket.id, Ticket.order, Ticket.tier, Ticket.seq, Ticket.code).where(Ticket.event == event_id).tuples()]
    return tiers, orders, tickets
