"""What one simulated fan does, from joining the queue to holding tickets (or not).

A fan behaves like the browser page: join, poll the room's shared progress document (more
slowly when far back, from ``etaSeconds``), compute its place from the revealed draw, and read
its own waiting-room status only when the progress says it may have changed (bench.drop.progress);
reserve when admitted, then pay, fail to pay, or walk away from the hold, and finally fetch
the tickets. A fan told "sold out" (by the
waiting room or at reserve) joins the tier's waitlist with ``Plan.waitlist_share``, polls
``GET /me/waitlist`` and buys an offer like any hold (``Fan.waitlist`` says how that went).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field

from bench.drop.client import Api, DeadlineReached
from bench.drop.clock import Clock
from bench.drop.progress import (
    SharedProgress,
    from_join,
    moved_on,
    needs_own_status,
    wants_place_estimate,
    with_place_estimate,
)

#: Reservation attempts (one per tier tried) before a fan gives up.
MAX_RESERVE_ATTEMPTS = 4
#: Times a fan sent back by the reservation endpoint (403) waits in the queue again.
MAX_QUEUE_VISITS = 3
#: Holds a fan may get; after a hold lapses before payment the fan reserves once more.
MAX_HOLDS = 2
#: Pause between polls of a pending reservation or checkout, in seconds.
DECISION_POLL_S = 0.5


@dataclass
class Plan:
    """How the crowd behaves. Shares are fractions of the fans who get a hold."""

    poll_s: float = 2.0
    #: Fans far back poll up to this slowly (``etaSeconds / 4``, at least ``poll_s``).
    poll_max_s: float = 2.0
    fail_share: float = 0.1
    abandon_share: float = 0.1
    max_quantity: int = 4
    #: ``Prefer: wait=N`` on commands, in seconds.
    prefer_wait_s: int = 5
    #: How long a fan keeps watching a "sold_out" status before leaving, in seconds (the server
    #: says sold out only when no holds are left, so this only absorbs a stale view).
    sold_out_grace_s: float = 3.0
    #: How long an admitted fan who sees nothing available waits for lapsed holds to come back, in seconds.
    nothing_left_grace_s: float = 30.0
    #: Longest wait for one decision (reservation, payment, tickets), in seconds.
    step_timeout_s: float = 120.0
    #: Share of fans told "sold out" who join the tier's waitlist.
    waitlist_share: float = 0.5
    #: How long a waitlisted fan waits for an offer before leaving the waitlist, in seconds.
    waitlist_patience_s: float = 120.0
    #: Pause between a waitlisted fan's polls of ``GET /me/waitlist``, in seconds.
    waitlist_poll_s: float = 5.0
    #: Fans read the shared progress document through a simulated edge cache (bench.drop.progress).
    edge_cache: bool = True


@dataclass(slots=True)
class Fan:
    index: int
    user_id: str
    late: bool = False
    #: The current stage until the fan is done, then one of invariants.FINAL_FAN_OUTCOMES.
    outcome: str = "new"
    detail: str = ""
    token: str = ""
    position: int | None = None
    position_changes: int = 0
    #: The position the fan held when last admitted.
    admitted_position: int | None = None
    rejoins: int = 0
    #: What the fan knows from its last join's answer (its first status, bench.drop.progress.from_join).
    joined: dict = field(default_factory=dict)
    requeues: int = 0
    quantity: int = 0
    tier_id: str = ""
    reservation_id: str = ""
    tickets: int = 0
    #: "" (never joined a waitlist), then "joined", "refused" (the join was answered 409),
    #: "offered" (an offer seen), "bought", "payment_failed", "lapsed" (the offer's hold ended
    #: before payment), "gave_up" (no offer within the patience; the fan left the waitlist) or
    #: "ended_<status>" (the entry ended before the fan saw an offer, e.g. the event closed).
    waitlist: str = ""


@dataclass
class Crowd:
    """Shared state of every fan: the API, the event, the plan, and stage counts for charts."""

    api: Api
    event_id: str
    plan: Plan
    rng: random.Random = field(default_factory=random.Random)
    stages: Counter = field(default_factory=Counter)
    #: Set once the sale opens (positions may be reshuffled until then).
    sale_open: asyncio.Event = field(default_factory=asyncio.Event)
    #: Tier ids known from the event page.
    tier_ids: list[str] = field(default_factory=list)
    #: The room's progress document as the fans read it (through a simulated edge cache unless
    #: ``Plan.edge_cache`` is off); made from ``api`` and ``event_id`` when not given.
    progress: SharedProgress | None = None
    #: The revealed draw (salt, pre-queue size) as the fans read it, through the same edge.
    fairness: SharedProgress | None = None
    #: Pre-queue fans' places computed from the draw: "estimated", then once the fan read its
    #: status "read", and "earlier" if the place was before the estimate's earliest (never expected).
    places: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.progress is None:
            self.progress = SharedProgress(self.api, self.event_id, edge=self.plan.edge_cache)
        if self.fairness is None:
            self.fairness = SharedProgress(self.api, self.event_id, edge=self.plan.edge_cache, document="fairness")

    @property
    def clock(self) -> Clock:
        """The clock the fans keep time by: their Api's (bench.drop.clock)."""
        return self.api.clock

    def set(self, fan: Fan, stage: str, detail: str = "") -> None:
        self.stages[fan.outcome] -= 1
        self.stages[stage] += 1
        fan.outcome = stage
        if detail:
            fan.detail = detail

    def add(self, fans: list[Fan]) -> None:
        """Count fans as "new" before their visits start (so "everyone has joined" can be awaited)."""
        self.stages[fans[0].outcome if fans else "new"] += len(fans)

    async def run(self, fan: Fan) -> None:
        """The fan's whole visit (after :meth:`add`); afterwards ``fan.outcome`` says where it ended."""
        try:
            if not await self._join(fan):
                return
            for _ in range(MAX_QUEUE_VISITS):
                if not await self._wait_for_admission(fan):
                    if fan.outcome == "sold_out":
                        await self._waitlist(fan)
                    return
                try:
                    await self._reserve_and_pay(fan)
                    if fan.outcome in ("sold_out", "rejected"):
                        await self._waitlist(fan)
                    return
                except _BackToQueue as exc:
                    fan.requeues += 1
                    fan.detail = exc.detail
                    if exc.rejoin:
                        fan.rejoins += 1
                        if not await self._join(fan):
                            return
            self.set(fan, "requeued_too_often", fan.detail)
        except _FanError as exc:
            self.set(fan, exc.stage, exc.detail)
        except DeadlineReached as exc:
            fan.detail = f"deadline reached during {exc} at stage {fan.outcome}"
        except Exception as exc:  # noqa: BLE001 - a simulator bug must not hide other fans' results
            self.set(fan, "crashed", f"{type(exc).__name__}: {exc}")

    # -- waiting room ---------------------------------------------------------------------
    async def _join(self, fan: Fan) -> bool:
        self.set(fan, "joining")
        reply = await self.api.call("join", "POST", f"/events/{self.event_id}/waiting-room/join", user=fan.user_id)
        if reply.status in (200, 201):
            fan.token, fan.position = reply.data["token"], reply.data.get("position")
            fan.joined = from_join(reply.data, self.clock.time())
            self.api.recorder.mark("joined")
            return True
        if reply.status == 409:
            self.set(fan, "join_refused", f"join 409 {reply.code}")
            return False
        self.set(fan, "join_failed", f"join {reply.status} {reply.data}")
        return False

    async def _wait_for_admission(self, fan: Fan) -> bool:
        """Poll until admitted (True) or the sale is over for this fan (False): the room's shared
        progress, and the fan's own status only when that may have changed (bench.drop.progress)."""
        self.set(fan, "waiting")
        sold_out_since = None
        forgotten = 0
        path = f"/events/{self.event_id}/waiting-room/status"
        own: dict | None = fan.joined or None  # the fan's last status read, and when (monotonic)
        own_at = self.clock.monotonic()
        while True:
            status = None
            if own is not None:
                reply = await self.progress.read()
                if reply.status == 200 and wants_place_estimate(own, reply.data):
                    own = await self._estimate_place(fan, own)
                if reply.status == 200 and not needs_own_status(own, reply.data):
                    status = moved_on(own, reply.data, self.clock.monotonic() - own_at)
                    body = None
            if status is None:
                reply = await self.api.call("status", "GET", path, params={"token": fan.token}, poll=True)
                if reply.status == 404 and forgotten < MAX_QUEUE_VISITS:
                    # Token forgotten (Redis lost its data): join again as the same user.
                    forgotten += 1
                    fan.rejoins += 1
                    if not await self._join(fan):
                        return False
                    self.set(fan, "waiting")
                    own, own_at = fan.joined or None, self.clock.monotonic()
                    continue
                if reply.status != 200:
                    self.set(fan, "status_failed", f"status {reply.status} {reply.data}")
                    return False
                if own is not None and own.get("earliestPosition") and reply.data.get("position"):
                    self.places["read"] += 1
                    self.places["earlier"] += reply.data["position"] < own["earliestPosition"]
                body = status = own = reply.data
                own_at = self.clock.monotonic()
                self._note_position(fan, body.get("position"), body.get("state"))
            if body is not None and (body.get("canEnter") or body.get("admission") == "admitted"):
                fan.admitted_position = fan.position
                self.api.recorder.mark("admitted")
                return True
            state = status.get("state")
            if state in ("sold_out", "closed"):
                sold_out_since = sold_out_since or self.clock.monotonic()
                if self.clock.monotonic() - sold_out_since >= self.plan.sold_out_grace_s or state == "closed":
                    self.set(fan, "sold_out", f"status {state}")
                    return False
            else:
                sold_out_since = None
            if status.get("admission") == "expired":
                self.set(fan, "admission_expired", "admission lapsed before the fan polled")
                return False
            await self.clock.sleep(self._poll_interval(status))

    async def _estimate_place(self, fan: Fan, own: dict) -> dict:
        """``own`` with the place the fan computes from the revealed draw (bench.drop.progress)."""
        reply = await self.fairness.read()
        own = with_place_estimate(own, fan.token, reply.data if reply.status == 200 else {})
        self.places["estimated"] += own["earliestPosition"] is not None
        return own

    def _note_position(self, fan: Fan, position, state) -> None:
        if position is None:
            return
        if fan.position is not None and position != fan.position and state not in (None, "waiting"):
            fan.position_changes += 1
        fan.position = position

    def _poll_interval(self, body: dict) -> float:
        """Seconds until the next poll, as the page decides it (jitter included)."""
        until_sale = body.get("secondsUntilOnSale") or 0
        if body.get("state") == "waiting" and until_sale > 0:
            # The countdown page wakes up at on-sale (browsers' clocks and timers spread it a little).
            if until_sale <= self.plan.poll_max_s:
                return until_sale + self.rng.uniform(0.0, self.plan.poll_s)
            return self.plan.poll_max_s * self.rng.uniform(0.8, 1.0)
        eta = body.get("etaSeconds") or 0
        return max(self.plan.poll_s, min(self.plan.poll_max_s, float(eta) / 4.0)) * self.rng.uniform(0.8, 1.2)

    # -- reservation ----------------------------------------------------------------------
    async def _reserve_and_pay(self, fan: Fan) -> None:
        roll = self.rng.random()
        for _ in range(MAX_HOLDS):
            self.set(fan, "reserving")
            if await self._reserve(fan) is None:
                return
            if roll < self.plan.abandon_share:
                self.api.recorder.mark("abandoned")
                self.set(fan, "abandoned", "walked away from the hold")
                return
            await self._checkout(fan, "fail" if roll < self.plan.abandon_share + self.plan.fail_share else "success")
            if fan.outcome != "hold_expired":
                return
            self.api.recorder.mark("hold_expired")  # too slow to pay: reserve again, as the API suggests

    async def _available(self) -> list[tuple[str, int, int]]:
        reply = await self.api.call("availability", "GET", f"/events/{self.event_id}/availability")
        if reply.status != 200:
            return []
        return [(t["tier_id"], t["remaining"], t.get("per_user_limit") or self.plan.max_quantity)
                for t in reply.data["tiers"] if t["remaining"] > 0]

    async def _reserve(self, fan: Fan) -> dict | None:
        """Try tiers until a hold is granted (returns the reservation) or nothing is left (None)."""
        rejected = 0
        give_up_at = self.clock.monotonic() + self.plan.nothing_left_grace_s
        attempts = 0
        while attempts < MAX_RESERVE_ATTEMPTS:
            tiers = await self._available()
            if not tiers:
                if self.clock.monotonic() >= give_up_at:
                    self.set(fan, "rejected" if rejected else "sold_out", "nothing left after admission")
                    return None
                await self.clock.sleep(self.plan.poll_s)
                continue
            attempts += 1
            tier_id, remaining, limit = self.rng.choice(tiers)
            fan.tier_id = tier_id
            fan.quantity = max(1, min(remaining, limit, self.rng.randint(1, self.plan.max_quantity)))
            reservation = await self._request_hold(fan)
            if reservation is None:
                continue
            status = reservation.get("status")
            if status == "held":
                self.api.recorder.mark("held")
                return reservation
            if status == "rejected":
                rejected += 1
                self.api.recorder.mark("rejected")
                continue
            if status == "expired":
                # Granted, then lapsed before this fan saw it (slow polls, killed workers): a
                # legitimate end, counted as a lapsed hold rather than a stuck fan.
                self.set(fan, "hold_expired", f"hold lapsed before the fan saw it: {reservation}")
                return None
            self.set(fan, "reserve_failed", f"reservation ended {status!r}: {reservation}")
            return None
        self.set(fan, "rejected", f"{rejected} reservations rejected")
        return None

    async def _request_hold(self, fan: Fan) -> dict | None:
        """POST the reservation and wait for its decision; None means "try again"."""
        reply = await self.api.call(
            "reserve", "POST", f"/events/{self.event_id}/reservations", user=fan.user_id,
            body={"tier_id": fan.tier_id, "quantity": fan.quantity, "token": fan.token},
            headers={"Prefer": f"wait={self.plan.prefer_wait_s}"},
        )
        if reply.status == 409 and reply.code in ("event_paused", "event_not_on_sale"):
            await self.clock.sleep(self.plan.poll_s)
            return None
        if reply.status == 409 and isinstance(reply.data, dict) and reply.data.get("status") != "rejected":
            # A problem document: sold out for this tier (decided before any hold).
            return {"status": "rejected", "reason": reply.code}
        if reply.status == 403:  # token forgotten (Redis lost it) or admission gone: back to the queue
            raise _BackToQueue(f"reserve 403 {reply.data.get('reason') if isinstance(reply.data, dict) else ''}",
                               rejoin=isinstance(reply.data, dict) and reply.data.get("reason") == "token_invalid")
        if reply.status == 404 and reply.code == "not_found" and "reservation" in str(reply.data.get("detail", "")).lower():
            return None  # the request was lost while being decided (Redis restart): ask again
        if reply.status not in (200, 201, 202, 409):
            raise _FanError(fan, "reserve_failed", f"reserve {reply.status} {reply.data}")
        reservation = reply.data
        fan.reservation_id = reservation["id"]
        return await self._until_decided(fan, reservation)

    async def _until_decided(self, fan: Fan, reservation: dict) -> dict | None:
        deadline = self.clock.monotonic() + self.plan.step_timeout_s
        while reservation.get("status") == "pending":
            if self.clock.monotonic() >= deadline:
                raise _FanError(fan, "reserving", f"reservation {fan.reservation_id} pending for {self.plan.step_timeout_s} s")
            await self.clock.sleep(DECISION_POLL_S)
            reply = await self.api.call("reservation_poll", "GET", f"/reservations/{fan.reservation_id}", user=fan.user_id)
            if reply.status == 404:  # the pending request was lost with Redis: ask again
                return None
            if reply.status != 200:
                raise _FanError(fan, "reserve_failed", f"reservation poll {reply.status} {reply.data}")
            reservation = reply.data
        return reservation

    # -- waitlist -------------------------------------------------------------------------
    async def _waitlist(self, fan: Fan) -> None:
        """Maybe join the waitlist of the fan's tier, wait for an offer, and buy it.

        The fan's final outcome stays "sold_out"/"rejected" unless an offer is bought
        ("bought") or its payment fails ("payment_failed"), so the invariant check compares
        the fan with the database as for any other fan.
        """
        if self.rng.random() >= self.plan.waitlist_share:
            return
        told = fan.outcome
        tier = await self._waitlist_tier(fan)
        if tier is None:
            return
        fan.tier_id, limit = tier
        if not fan.quantity:
            fan.quantity = self.rng.randint(1, max(1, min(limit, self.plan.max_quantity)))
        fan.quantity = min(fan.quantity, limit)
        reply = await self.api.call("waitlist_join", "POST", f"/events/{self.event_id}/waitlist", user=fan.user_id,
                                    body={"tier_id": fan.tier_id, "quantity": fan.quantity})
        if reply.status not in (200, 201):
            # 409 not_sold_out (a return made the tier sell again), limit_exceeded, closed event.
            fan.waitlist = "refused"
            fan.detail = f"waitlist join {reply.status} {reply.code}"
            return
        fan.waitlist = "joined"
        entry_id = reply.data["id"]
        self.api.recorder.mark("waitlist_joined")
        self.set(fan, "waitlisted")
        # A waitlisted fan leaves when its patience ends, or in time before the run's deadline:
        # the sale is over for it either way, and it ends as what it was told ("sold out").
        give_up_at = min(self.clock.monotonic() + self.plan.waitlist_patience_s,
                         self.api.deadline - 2 * self.plan.waitlist_poll_s)
        while True:
            if self.clock.monotonic() >= give_up_at:
                await self._leave_waitlist(fan, entry_id, told)
                return
            entry = await self._waitlist_entry(fan, entry_id)
            status = entry.get("status")
            if status == "offered" and entry.get("offer"):
                await self._buy_offer(fan, entry["offer"], told)
                return
            if status not in ("waiting", "offered"):
                # lapsed / canceled / left without this fan buying: the sale is over for it.
                fan.waitlist = f"ended_{status}"
                self.set(fan, told, f"waitlist entry ended {status!r}")
                return
            await self.clock.sleep(self.plan.waitlist_poll_s * self.rng.uniform(0.8, 1.2))

    async def _leave_waitlist(self, fan: Fan, entry_id: str, told: str) -> None:
        fan.waitlist = "gave_up"
        self.set(fan, told, f"no offer within {self.plan.waitlist_patience_s} s or before the run's deadline")
        await self.api.call("waitlist_leave", "DELETE", f"/waitlist/{entry_id}", user=fan.user_id)

    async def _waitlist_tier(self, fan: Fan) -> tuple[str, int] | None:
        """The tier the fan waits for (the one it was refused, else any) and its per-user limit."""
        reply = await self.api.call("availability", "GET", f"/events/{self.event_id}/availability")
        if reply.status != 200 or not reply.data.get("tiers"):
            return None
        tiers = {t["tier_id"]: t.get("per_user_limit") or self.plan.max_quantity for t in reply.data["tiers"]}
        tier_id = fan.tier_id if fan.tier_id in tiers else self.rng.choice(sorted(tiers))
        return tier_id, tiers[tier_id]

    async def _waitlist_entry(self, fan: Fan, entry_id: str) -> dict:
        reply = await self.api.call("waitlist_poll", "GET", "/me/waitlist", user=fan.user_id, waitlist=True)
        if reply.status != 200:
            raise _FanError(fan, "waitlist_failed", f"waitlist poll {reply.status} {reply.data}")
        for entry in reply.data.get("entries", []):
            if entry.get("id") == entry_id:
                return entry
        raise _FanError(fan, "waitlist_failed", f"waitlist entry {entry_id} missing from /me/waitlist")

    async def _buy_offer(self, fan: Fan, offer: dict, told: str) -> None:
        """Pay an offer like a hold: the same share of fans' payments fail."""
        fan.waitlist = "offered"
        self.api.recorder.mark("waitlist_offered")
        fan.reservation_id = offer["reservation_id"]
        fan.quantity = offer.get("quantity") or fan.quantity
        simulate = "fail" if self.rng.random() < self.plan.fail_share else "success"
        await self._checkout(fan, simulate)
        if fan.outcome == "bought":
            fan.waitlist = "bought"
            self.api.recorder.mark("waitlist_bought")
        elif fan.outcome == "payment_failed":
            fan.waitlist = "payment_failed"
        elif fan.outcome == "hold_expired":
            fan.waitlist = "lapsed"
            self.set(fan, told, f"offer lapsed before payment: {fan.detail}")
        # checkout_failed (a contract breach) stays as it is, for the invariant check to show.

    # -- checkout -------------------------------------------------------------------------
    async def _checkout(self, fan: Fan, simulate: str) -> None:
        self.set(fan, "paying")
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{fan.user_id}/{fan.reservation_id}"))
        reply = await self.api.call("checkout_session", "POST", "/checkout/sessions", user=fan.user_id,
                                    body={"reservation_id": fan.reservation_id}, headers={"Idempotency-Key": key}, pay=True)
        if reply.status == 409 or reply.status == 410:
            self.set(fan, "hold_expired", f"checkout session {reply.status} {reply.code}")
            return
        if reply.status not in (200, 201):
            raise _FanError(fan, "checkout_failed", f"checkout session {reply.status} {reply.data}")
        session = reply.data
        reply = await self.api.call("confirm", "POST", "/checkout/confirm", user=fan.user_id,
                                    body={"checkoutId": session["checkoutId"], "simulate": simulate},
                                    headers={"Prefer": f"wait={self.plan.prefer_wait_s}"}, pay=True)
        data = reply.data if isinstance(reply.data, dict) else {}
        if reply.status == 409 and isinstance(data.get("checkout"), dict):
            data = data["checkout"]  # a declined payment answers 409 with the failed session
        elif reply.status == 410:
            self.set(fan, "hold_expired", f"confirm 410 {reply.code}")
            return
        elif reply.status not in (200, 201, 202):
            raise _FanError(fan, "checkout_failed", f"confirm {reply.status} {reply.data}")
        session = await self._until_paid(fan, session["id"], data)
        status = session.get("status")
        if status == "paid":
            self.api.recorder.mark("paid")
            await self._fetch_tickets(fan)
        elif status == "failed":
            self.api.recorder.mark("payment_failed")
            self.set(fan, "payment_failed" if simulate == "fail" else "checkout_failed", f"payment {status}")
        else:
            self.set(fan, "hold_expired", f"checkout session ended {status!r}")

    async def _until_paid(self, fan: Fan, session_id: str, session: dict) -> dict:
        deadline = self.clock.monotonic() + self.plan.step_timeout_s
        while session.get("status") not in ("paid", "failed", "expired"):
            if self.clock.monotonic() >= deadline:
                raise _FanError(fan, "paying", f"checkout {session_id} undecided for {self.plan.step_timeout_s} s: {session}")
            await self.clock.sleep(DECISION_POLL_S)
            reply = await self.api.call("session_poll", "GET", f"/checkout/sessions/{session_id}", user=fan.user_id,
                                        pay=True)
            if reply.status != 200:
                raise _FanError(fan, "checkout_failed", f"session poll {reply.status} {reply.data}")
            session = reply.data
        return session

    async def _fetch_tickets(self, fan: Fan) -> None:
        self.set(fan, "fetching")
        deadline = self.clock.monotonic() + self.plan.step_timeout_s
        while True:
            reply = await self.api.call("tickets", "GET", "/me/tickets", user=fan.user_id, pay=True)
            if reply.status == 200:
                fan.tickets = sum(1 for t in reply.data if (t.get("event") or {}).get("id") == self.event_id)
                if fan.tickets >= fan.quantity or self.clock.monotonic() >= deadline:
                    self.set(fan, "bought", f"{fan.tickets} tickets")
                    return
            elif self.clock.monotonic() >= deadline:
                raise _FanError(fan, "fetching", f"tickets {reply.status} {reply.data}")
            await self.clock.sleep(DECISION_POLL_S)


class _FanError(Exception):
    """A fan met an answer the contract does not allow; it stops in ``stage``."""

    def __init__(self, fan: Fan, stage: str, detail: str) -> None:
        super().__init__(detail)
        self.fan, self.stage, self.detail = fan, stage, detail


class _BackToQueue(Exception):
    """The reservation endpoint sent the fan back to the waiting room (403)."""

    def __init__(self, detail: str, *, rejoin: bool) -> None:
        super().__init__(detail)
        self.detail, self.rejoin = detail, rejoin
