"""An in-memory stand-in for the TicketDrop HTTP contract (docs/api.md), small enough to read,
so the simulator's fans can be tested without the real system. Its waves, holds and draw keep
time by ``clock`` (bench.drop.clock; the tests pass the fans' VirtualClock)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import uuid
from collections import Counter

from aiohttp import web

from bench.drop.clock import REAL_CLOCK, Clock


class FakeDrop:
    def __init__(self, capacity: int = 20, wave: int = 10, wave_every_s: float = 0.05, hold_ttl_s: float = 60.0,
                 draw_after_s: float | None = None, clock: Clock = REAL_CLOCK) -> None:
        self.clock = clock
        self.event_id = str(uuid.uuid4())
        self.tier_id = str(uuid.uuid4())
        self.remaining = capacity
        self.wave, self.wave_every_s = wave, wave_every_s
        self.opened = self.clock.monotonic()
        self.positions: dict[str, int] = {}
        self.next_position = itertools.count(1)
        self.reservations: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.tickets: dict[str, int] = {}
        #: Users whose next status poll answers 404 once (as if Redis had lost their token).
        self.forget: set[str] = set()
        #: Users whose next reservation answers 403 token_invalid once (their place was lost).
        self.refuse: set[str] = set()
        #: Requests answered 503 with Retry-After before the real answer.
        self.unavailable = 0
        self.requests = 0
        #: Unpaid holds lapse after this long (checked on every request) and go to the waitlist.
        self.hold_ttl_s = hold_ttl_s
        #: Waitlist entries in arrival order (the fake's rank), by id.
        self.waitlist: dict[str, dict] = {}
        #: Status reads per user, and the progress document's Cache-Control max-age in seconds.
        self.status_reads: Counter = Counter()
        self.progress_max_age_s = 0
        #: With ``draw_after_s``, fans who join before then are a pre-queue (no place) drawn by
        #: HMAC(salt, token) that long after start, as the real room does at on-sale; waves start then.
        self.draw_after_s = draw_after_s
        self.salt = hashlib.sha256(self.event_id.encode()).digest()
        self.prequeue: list[str] = []
        self.drawn = draw_after_s is None

    def admitted_up_to(self) -> int:
        self._draw_when_due()
        if not self.drawn:
            return 0
        return int((self.clock.monotonic() - self.opened - (self.draw_after_s or 0)) / self.wave_every_s) * self.wave

    def _draw_when_due(self) -> None:
        if self.drawn or self.clock.monotonic() - self.opened < self.draw_after_s:
            return
        order = sorted(self.prequeue, key=lambda u: hmac.digest(self.salt, f"tok-{u}".encode(), "sha256"))
        self.positions.update({user: i for i, user in enumerate(order, start=1)})
        self.next_position = itertools.count(len(order) + 1)
        self.drawn = True

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._flaky])
        e = f"/events/{self.event_id}"
        app.router.add_post(f"{e}/waiting-room/join", self.join)
        app.router.add_get(f"{e}/waiting-room/status", self.status)
        app.router.add_get(f"{e}/waiting-room/progress", self.progress)
        app.router.add_get(f"{e}/waiting-room/fairness", self.fairness)
        app.router.add_get(f"{e}/availability", self.availability)
        app.router.add_post(f"{e}/reservations", self.reserve)
        app.router.add_get("/reservations/{id}", self.reservation)
        app.router.add_post("/checkout/sessions", self.checkout)
        app.router.add_post("/checkout/confirm", self.confirm)
        app.router.add_get("/checkout/sessions/{id}", self.session)
        app.router.add_get("/me/tickets", self.my_tickets)
        app.router.add_post(f"{e}/waitlist", self.join_waitlist)
        app.router.add_get("/me/waitlist", self.my_waitlist)
        app.router.add_delete("/waitlist/{id}", self.leave_waitlist)
        return app

    @web.middleware
    async def _flaky(self, request, handler):
        self.requests += 1
        if self.unavailable > 0:
            self.unavailable -= 1
            return web.json_response({"code": "unavailable"}, status=503, headers={"Retry-After": "0"})
        self._expire_holds()
        return await handler(request)

    def _expire_holds(self) -> None:
        now = self.clock.monotonic()
        for res in list(self.reservations.values()):  # a lapsed hold's tickets become offers (new holds)
            if res["status"] == "held" and now - res["at"] >= self.hold_ttl_s:
                self._give_back(res, "expired")

    def _give_back(self, res: dict, status: str) -> None:
        """A hold ends unpaid: its tickets go to the first waiting fans they fit, in order."""
        res["status"] = status
        self.remaining += res["quantity"]
        for entry in self.waitlist.values():
            if entry.get("reservation_id") == res["id"]:
                entry["status"] = "lapsed"
        for entry in self.waitlist.values():
            if entry["status"] == "waiting" and entry["quantity"] <= self.remaining:
                self.remaining -= entry["quantity"]
                offer_id = str(uuid.uuid4())
                self.reservations[offer_id] = {"id": offer_id, "status": "held", "quantity": entry["quantity"],
                                               "user": entry["user"], "polls": 0, "at": self.clock.monotonic()}
                entry.update(status="offered", reservation_id=offer_id)

    async def join(self, request):
        user = request.headers["X-User-Id"]
        self._draw_when_due()
        if not self.drawn:
            new = user not in self.prequeue
            if new:
                self.prequeue.append(user)
            body = {"token": f"tok-{user}", "position": None, "total": len(self.prequeue), "state": "waiting",
                    "onSaleAt": "2026-01-01T00:00:00Z", "prequeue": True}
            return web.json_response(body, status=201 if new else 200)
        new = user not in self.positions
        if new:
            self.positions[user] = next(self.next_position)
        body = {"token": f"tok-{user}", "position": self.positions[user], "total": len(self.positions), "state": "sale_open",
                "onSaleAt": "2026-01-01T00:00:00Z", "prequeue": False}
        return web.json_response(body, status=201 if new else 200)

    async def status(self, request):
        user = request.query["token"].removeprefix("tok-")
        if user in self.forget:
            self.forget.discard(user)
            return web.json_response({"code": "not_found"}, status=404)
        self.status_reads[user] += 1
        self._draw_when_due()
        if not self.drawn:
            return web.json_response({"state": "waiting", "position": None, "canEnter": False, "admission": "queued",
                                      "etaSeconds": None})
        position = self.positions[user]
        admitted = position <= self.admitted_up_to()
        state = "sold_out" if self.remaining <= 0 else "sale_open"
        return web.json_response({"state": state, "position": position, "canEnter": admitted and self.remaining > 0,
                                  "admission": "admitted" if admitted else "queued", "etaSeconds": 0})

    async def progress(self, request):
        # max-age 0, as the real room answers when waves come faster than once a second; an
        # ETag of the document and 304 to a matching If-None-Match, as the real room does
        state = "sold_out" if self.remaining <= 0 else "sale_open"
        through = self.admitted_up_to()
        document = {"state": state, "total": len(self.positions) or len(self.prequeue), "drawn": self.drawn,
                    "admittedThrough": through, "positionsPerMinute": self.wave / self.wave_every_s * 60}
        headers = {"Cache-Control": f"public, max-age={self.progress_max_age_s}",
                   "ETag": f'W/"{hashlib.sha256(repr(sorted(document.items())).encode()).hexdigest()[:16]}"'}
        if request.headers.get("If-None-Match") == headers["ETag"]:
            return web.Response(status=304, headers=headers)
        return web.json_response(document, headers=headers)

    async def fairness(self, request):
        self._draw_when_due()
        revealed = self.drawn and self.draw_after_s is not None
        return web.json_response({"commitment": hashlib.sha256(self.salt).hexdigest(),
                                  "salt": self.salt.hex() if revealed else None,
                                  "prequeue_size": len(self.prequeue) if revealed else None},
                                 headers={"Cache-Control": "public, max-age=3600" if revealed else "public, no-cache"})

    async def availability(self, request):
        return web.json_response({"event_id": self.event_id, "tiers": [
            {"tier_id": self.tier_id, "name": "GA", "price_cents": 100, "capacity": 99, "remaining": self.remaining}]})

    async def reserve(self, request):
        body = await request.json()
        if request.headers["X-User-Id"] in self.refuse:
            self.refuse.discard(request.headers["X-User-Id"])
            return web.json_response({"code": "forbidden", "reason": "token_invalid"}, status=403)
        res_id = str(uuid.uuid4())
        waiting = any(e["status"] == "waiting" for e in self.waitlist.values())
        held = body["quantity"] <= self.remaining and not waiting  # returns belong to the waitlist
        if held:
            self.remaining -= body["quantity"]
        res = {"id": res_id, "status": "held" if held else "rejected", "quantity": body["quantity"],
               "user": request.headers["X-User-Id"], "polls": 0, "at": self.clock.monotonic()}
        self.reservations[res_id] = res
        if len(self.reservations) % 3 == 0:  # every third answer is still pending: the fan must poll
            return web.json_response({"id": res_id, "status": "pending"}, status=202)
        return web.json_response(res, status=201 if held else 409)

    async def reservation(self, request):
        return web.json_response(self.reservations[request.match_info["id"]])

    async def checkout(self, request):
        res = self.reservations[(await request.json())["reservation_id"]]
        if res["status"] != "held":
            return web.json_response({"code": "hold_expired"}, status=410)
        sid = str(uuid.uuid4())
        self.sessions[sid] = {"id": sid, "checkoutId": f"co-{sid}", "status": "open", "res": res}
        return web.json_response(self.sessions[sid], status=201)

    async def confirm(self, request):
        body = await request.json()
        session = self.sessions[body["checkoutId"].removeprefix("co-")]
        if body["simulate"] == "success":
            session["status"] = "paid"
            session["res"]["status"] = "converted"
            self.tickets[session["res"]["user"]] = session["res"]["quantity"]
            for entry in self.waitlist.values():
                if entry.get("reservation_id") == session["res"]["id"]:
                    entry["status"] = "purchased"
        else:
            session["status"] = "failed"
            self._give_back(session["res"], "released")
        return web.json_response({"id": session["id"], "status": "processing"}, status=202)

    async def session(self, request):
        s = self.sessions[request.match_info["id"]]
        return web.json_response({"id": s["id"], "status": s["status"]})

    async def my_tickets(self, request):
        n = self.tickets.get(request.headers["X-User-Id"], 0)
        return web.json_response([{"code": f"c{i}", "event": {"id": self.event_id}} for i in range(n)])

    async def join_waitlist(self, request):
        user, body = request.headers["X-User-Id"], await request.json()
        for entry in self.waitlist.values():
            if entry["user"] == user:
                return web.json_response(self._entry(entry), status=200)
        waiting = any(e["status"] == "waiting" for e in self.waitlist.values())
        if body["quantity"] <= self.remaining and not waiting:
            return web.json_response({"code": "not_sold_out", "remaining": self.remaining}, status=409)
        entry = {"id": str(uuid.uuid4()), "user": user, "quantity": body["quantity"], "status": "waiting"}
        self.waitlist[entry["id"]] = entry
        return web.json_response(self._entry(entry), status=201)

    async def my_waitlist(self, request):
        user = request.headers["X-User-Id"]
        return web.json_response({"entries": [self._entry(e) for e in self.waitlist.values() if e["user"] == user]})

    async def leave_waitlist(self, request):
        entry = self.waitlist[request.match_info["id"]]
        if entry["status"] == "offered":
            self._give_back(self.reservations[entry["reservation_id"]], "released")
        entry["status"] = "left"
        return web.json_response(self._entry(entry))

    def _entry(self, entry: dict) -> dict:
        offer = None
        if entry["status"] == "offered":
            offer = {"reservation_id": entry["reservation_id"], "quantity": entry["quantity"], "expires_at": "later"}
        return {"id": entry["id"], "tier_id": self.tier_id, "quantity": entry["quantity"], "status": entry["status"], "offer": offer}
