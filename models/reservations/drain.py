"""Deciding an event's queued requests: the heart of "never oversell".

One drainer per event (the lease) repeats a step until the mailbox is empty:

1. read a batch from the head of the mailbox (LRANGE: a crash loses nothing),
2. decide it in one Lua script against the Redis counters, in FIFO order (res_decide.lua),
3. write it in one database transaction that has the last word (persist.py),
4. make Redis agree, drop the batch from the mailbox, renew the lease (res_commit.lua),
5. publish each outcome for ``Prefer: wait`` requests.

An "offers" marker in the batch (tickets came back to a tier with a waitlist) makes the step
offer them to the waitlist first (models/waitlist/offers.py); the marker has no record, so the
decide script drops it and the commit trims it with the batch.

Killed at any instant, a redelivered run repeats the step with the same decisions: the decide
script returns earlier decisions unchanged, rows are written once (primary key), the commit
script skips records already committed. Nothing is granted twice and nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from models import outcomes
from models.metrics import OVERSELL_ATTEMPTS, RESERVATIONS
from models.redis import scripts
from models.reservations.counters import ensure_counters, rebuild_locked
from models.reservations.lease import DRAIN_FLAG_TTL_MS, LEASE_TTL_MS, EventLease
from models.reservations.persist import BatchResult, Decision, Final, persist_batch
from models.reservations.records import DECIDED_RECORD_TTL_S, to_ms, truncate_ms
from models.tables import utcnow
from models.timestamps import iso
from models.waiting_room import mark_used_sync
from models.waitlist.nudge import is_offers_marker
from models.waitlist.offers import offer_returns

log = logging.getLogger("ticketdrop.reservations")

#: A drainer hands over to a fresh message after this long, in seconds, so no run nears the
#: actor's time limit and other events get worker threads. Long, because a hand-over waits for
#: a worker to fetch the new message (up to dramatiq's worker timeout when it was idle).
TIME_BOX_S = 20.0
#: How long a drainer keeps the lease on an empty mailbox in case more requests arrive, in
#: seconds (saves a message round trip per burst at moderate load).
LINGER_S = 0.2
#: The linger's first look at the mailbox comes after this long, in seconds; each next one waits
#: twice as long, up to LINGER_POLL_MAX_S: a request arriving at once is taken within ~2 ms, and a
#: quiet event costs ~10 LLEN per linger instead of 40 (one purchase used to cost 37).
LINGER_POLL_S = 0.002
LINGER_POLL_MAX_S = 0.025
#: How long a new drain message waits for the previous holder to hand over, in seconds.
ACQUIRE_WAIT_S = 0.1
_DECISION_WIDTH = 12

#: ``resend(delay_ms)`` sends another drain message for the event (delay None = now).
Resend = Callable[[int | None], None]


@dataclass
class DrainReport:
    batches: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    ended: str = ""  # done | handed_over | busy | lease_lost


def drain(rt: Any, event_id: str, resend: Resend, *, time_box_s: float | None = None,
          linger_s: float | None = None) -> DrainReport:
    """Decide the event's queued requests until its mailbox is empty or the time box ends.

    ``rt`` carries settings, a sync Redis client and keys; the database must be bound.
    Returns a DrainReport; raises what Redis or the database raise (the message is retried).
    """
    redis, keys = rt.redis, rt.keys
    time_box_s = TIME_BOX_S if time_box_s is None else time_box_s
    linger_s = LINGER_S if linger_s is None else linger_s
    report = DrainReport()
    lease = EventLease(redis, keys, event_id)
    if not lease.acquire(ACQUIRE_WAIT_S):
        # Another drainer is at work; if it died, this delayed message picks the event up.
        if redis.llen(keys.mailbox(event_id)):
            resend(lease.remaining_ms() + 50)
        report.ended = "busy"
        return report
    try:
        with lease.kept():  # a killed drainer's lease lapses within LEASE_TTL_MS
            return _drain_leased(rt, event_id, lease, resend, report, time_box_s, linger_s)
    except BaseException:
        try:
            lease.release()  # let a retry (or another worker) start at once
        except Exception:  # noqa: BLE001 - Redis is down too: the lease lapses on its own
            log.warning("could not release the event lease", extra={"event_id": event_id})
        raise


def _drain_leased(rt: Any, event_id: str, lease: EventLease, resend: Resend, report: DrainReport, time_box_s: float,
                  linger_s: float) -> DrainReport:
    redis, keys = rt.redis, rt.keys
    ensure_counters(redis, keys, event_id)
    deadline = time.monotonic() + time_box_s
    while True:
        ids = redis.lrange(keys.mailbox(event_id), 0, rt.settings.reserve_batch_size - 1)
        if not ids:
            if _linger(redis, keys.mailbox(event_id), linger_s):
                continue
            state = lease.finish()
            if state == 0:
                continue
            report.ended = "done" if state == 1 else "lease_lost"
            return report
        if not step(rt, event_id, ids, lease.token, report):
            report.ended = "lease_lost"
            return report
        if time.monotonic() >= deadline:
            # Send first, then let go: the new message waits ACQUIRE_WAIT_S for the lease.
            resend(None)
            lease.release(restamp_flag=True)
            report.ended = "handed_over"
            return report


def _linger(redis: Any, mailbox: str, linger_s: float) -> bool:
    deadline = time.monotonic() + linger_s
    pause = LINGER_POLL_S
    while time.monotonic() < deadline:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        if redis.llen(mailbox):
            return True
        pause = min(pause * 2, LINGER_POLL_MAX_S)
    return False


def step(rt: Any, event_id: str, ids: list[str], lease_token: str, report: DrainReport | None = None) -> bool:
    """Decide, persist, commit and publish one batch. Returns False if the lease was lost."""
    redis, keys = rt.redis, rt.keys
    started = time.perf_counter()
    if any(is_offers_marker(i) for i in ids):
        # Tickets came back to a tier with a waitlist: offer them first, in waitlist order. The
        # flag goes before the offers are read, so a return meanwhile queues a fresh marker.
        redis.delete(keys.offers_due(event_id))
        offer_returns(rt, event_id)
    now = truncate_ms(utcnow())
    decisions = decide(rt, event_id, ids, now)
    decided = time.perf_counter()
    result = persist_batch(event_id, decisions, now)
    persisted = time.perf_counter()
    _count_written(decisions, result)  # before the commit shows the outcomes
    still_ours = _commit(rt, event_id, ids, decisions, result.finals, result.tiers, lease_token)
    published = []
    counts: dict[str, int] = {}
    for d in decisions:
        final = result.finals.get(d.id)
        if final is None:
            continue
        counts[final.status] = counts.get(final.status, 0) + 1
        published.append((d.id, _payload(event_id, d, final)))
    _mark_admissions_used(redis, keys, event_id, decisions)
    if published:
        outcomes.publish_many(redis, keys, published)
    for status, n in counts.items():
        if report is not None:
            report.outcomes[status] = report.outcomes.get(status, 0) + n
    if report is not None:
        report.batches += 1
    log.info("reservations decided", extra={
        "event_id": event_id, "batch": len(ids), **counts, "refused_by_database": result.refused,
        "decide_ms": round((decided - started) * 1000, 1), "database_ms": round((persisted - decided) * 1000, 1),
        "total_ms": round((time.perf_counter() - started) * 1000, 1)})
    return still_ours


def _count_written(decisions: list[Decision], result: BatchResult) -> None:
    """Count the outcomes (and the oversell attempts) of the requests whose rows this step
    wrote. The same batch can be decided twice: redelivered after a crash, or by a drainer that
    lost its lease (it expired, or Redis was flushed) while a successor decides it too; the
    decide script then returns the same decisions, but the database writes each row once, so
    counting rows written counts every request once."""
    counts: dict[str, int] = {}
    sold_out = result.refused  # holds the Redis gate granted and the database refused
    for d in decisions:
        if d.id not in result.written:
            continue
        status = result.finals[d.id].status
        counts[status] = counts.get(status, 0) + 1
        if d.decision == "rejected" and d.reason == "sold_out":  # the Redis gate turned it away
            sold_out += 1
    for status, n in counts.items():
        RESERVATIONS.labels(status).inc(n)
    if sold_out:
        OVERSELL_ATTEMPTS.inc(sold_out)


def _mark_admissions_used(redis: Any, keys: Any, event_id: str, decisions: list[Decision]) -> None:
    # The waiting room counts an admission as used once its fan reserved (its wave sizing
    # relies on it). Done here, one round trip per batch, rather than per request on the web
    # tier's hot path; mark_used is idempotent, so a redelivered batch marks nothing twice.
    positions = sorted({int(d.position) for d in decisions if d.position})
    mark_used_sync(redis, keys, event_id, *positions)  # one script call for the whole batch


def decide(rt: Any, event_id: str, ids: list[str], now: datetime) -> list[Decision]:
    """Run res_decide.lua over ``ids``, rebuilding the counters once if they are missing."""
    redis, keys, settings = rt.redis, rt.keys, rt.settings
    expires = now + timedelta(seconds=settings.hold_ttl_s)
    script = scripts(redis).get("res_decide")
    script_keys = [keys.stock(event_id), keys.user_counts(event_id), keys.live_reservations(event_id),
                   keys.waitlist(event_id), *(keys.reservation(rid) for rid in ids)]
    args = [settings.event_purchase_limit, iso(expires), to_ms(expires), "0", *ids]
    raw = script(keys=script_keys, args=args)
    if raw and raw[0] == "rebuild":
        rebuild_locked(redis, keys, event_id)
        args[3] = "1"
        raw = script(keys=script_keys, args=args)
    return [Decision(*raw[i:i + _DECISION_WIDTH]) for i in range(0, len(raw), _DECISION_WIDTH)]


def _commit(rt: Any, event_id: str, ids: list[str], decisions: list[Decision], finals: dict[str, Final],
            tiers: dict[str, tuple[int, int]], lease_token: str) -> bool:
    keys, settings = rt.keys, rt.settings
    args: list[Any] = [lease_token, LEASE_TTL_MS, DRAIN_FLAG_TTL_MS, DECIDED_RECORD_TTL_S, settings.hold_ttl_s, len(tiers)]
    for tier_id, (available, held) in tiers.items():
        args += [tier_id, available, held]
    for d in decisions:
        final = finals.get(d.id)
        if final is None:
            args += [d.id, "", "", "", ""]
        else:
            args += [d.id, final.status, final.reason or "", iso(final.expires_at) or "",
                     to_ms(final.expires_at) if final.expires_at else ""]
    script_keys = [keys.stock(event_id), keys.user_counts(event_id), keys.live_reservations(event_id),
                   keys.mailbox(event_id), keys.drain_flag(event_id), keys.event_lease(event_id),
                   *(keys.reservation(rid) for rid in ids)]
    return bool(scripts(rt.redis).get("res_commit")(keys=script_keys, args=args))


def _payload(event_id: str, d: Decision, final: Final) -> dict[str, Any]:
    return {"event_id": event_id, "tier_id": d.tier_id, "quantity": int(d.quantity or 0), "status": final.status,
            "expires_at": iso(final.expires_at), "reason": final.reason}
