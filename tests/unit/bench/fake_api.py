"""An in-memory stand-in for the TicketDrop HTTP contract (docs/api.md), small enough to read,
so the simulator's fans can be tested without the real system."""

from __future__ import annotations

import itertools
import time
import uuid

from aiohttp import web


class FakeDrop:
    def __init__(self, capacity: int = 20, wave: int = 10, wave_every_s: float = 0.05) -> None:
        self.event_id = str(uuid.uuid4())
        self.tier_id = str(uuid.uuid4())
        self.remaining = capacity
        self.wave, self.wave_every_s = wave, wave_every_s
        self.opened = time.monotonic()
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

    def admitted_up_to(self) -> int:
        return int((time.monotonic() - self.opened) / self.wave_every_s) * self.wave

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._flaky])
        e = f"/events/{self.event_id}"
        app.router.add_post(f"{e}/waiting-room/join", self.join)
        app.router.add_get(f"{e}/waiting-room/status", self.status)
        app.router.add_get(f"{e}/availability", self.availability)
        app.router.add_post(f"{e}/reservations", self.reserve)
        app.router.add_get("/reservations/{id}", self.reservation)
        app.router.add_post("/checkout/sessions", self.checkout)
        app.router.add_post("/checkout/confirm", self.confirm)
        app.router.add_get("/checkout/sessions/{id}", self.session)
        app.router.add_get("/me/tickets", self.my_tickets)
        return app

    @web.middleware
    async def _flaky(self, request, handler):
        self.requests += 1
        if self.unavailable > 0:
            self.unavailable -= 1
            return web.json_response({"code": "unavailable"}, status=503, headers={"Retry-After": "0"})
        return await handler(request)

    async def join(self, request):
        user = request.headers["X-User-Id"]
        new = user not in self.positions
        if new:
            self.positions[user] = next(self.next_position)
        body = {"token": f"tok-{user}", "position": self.positions[user], "total": len(self.positions), "state": "sale_open"}
        return web.json_response(body, status=201 if new else 200)

    async def status(self, request):
        user = request.query["token"].removeprefix("tok-")
        if user in self.forget:
            self.forget.discard(user)
            return web.json_response({"code": "not_found"}, status=404)
        position = self.positions[user]
        admitted = position <= self.admitted_up_to()
        state = "sold_out" if self.remaining <= 0 else "sale_open"
        return web.json_response({"state": state, "position": position, "canEnter": admitted and self.remaining > 0,
                                  "admission": "admitted" if admitted else "queued", "etaSeconds": 0})

    async def availability(self, request):
        return web.json_response({"event_id": self.event_id, "tiers": [
            {"tier_id": self.tier_id, "name": "GA", "price_cents": 100, "capacity": 99, "remaining": self.remaining}]})

    async def reserve(self, request):
        body = await request.json()
        if request.headers["X-User-Id"] in self.refuse:
            self.refuse.discard(request.headers["X-User-Id"])
            return web.json_response({"code": "forbidden", "reason": "token_invalid"}, status=403)
        res_id = str(uuid.uuid4())
        held = body["quantity"] <= self.remaining
        if held:
            self.remaining -= body["quantity"]
        res = {"id": res_id, "status": "held" if held else "rejected", "quantity": body["quantity"],
               "user": request.headers["X-User-Id"], "polls": 0}
        self.reservations[res_id] = res
        if len(self.reservations) % 3 == 0:  # every third answer is still pending: the fan must poll
            return web.json_response({"id": res_id, "status": "pending"}, status=202)
        return web.json_response(res, status=201 if held else 409)

    async def reservation(self, request):
        return web.json_response(self.reservations[request.match_info["id"]])

    async def checkout(self, request):
        res = self.reservations[(await request.json())["reservation_id"]]
        sid = str(uuid.uuid4())
        self.sessions[sid] = {"id": sid, "checkoutId": f"co-{sid}", "status": "open", "res": res}
        return web.json_response(self.sessions[sid], status=201)

    async def confirm(self, request):
        body = await request.json()
        session = self.sessions[body["checkoutId"].removeprefix("co-")]
        if body["simulate"] == "success":
            session["status"] = "paid"
            self.tickets[session["res"]["user"]] = session["res"]["quantity"]
        else:
            session["status"] = "failed"
            self.remaining += session["res"]["quantity"]
        return web.json_response({"id": session["id"], "status": "processing"}, status=202)

    async def session(self, request):
        s = self.sessions[request.match_info["id"]]
        return web.json_response({"id": s["id"], "status": s["status"]})

    async def my_tickets(self, request):
        n = self.tickets.get(request.headers["X-User-Id"], 0)
        return web.json_response([{"code": f"c{i}", "event": {"id": self.event_id}} for i in range(n)])
