"""A small HTTP client for setting the scene of browser tests through the public API."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def iso_in(seconds: float) -> str:
    """An ISO 8601 UTC timestamp ``seconds`` from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


#: How often, and how far apart, a request answered 503 (database busy) is sent again.
BUSY_RETRIES = 5
BUSY_PAUSE_S = 0.5


class Api:
    def __init__(self, base_url: str, *, admin_token: str | None = None, user: str | None = None,
                 token: str | None = None) -> None:
        self.base_url = base_url
        self.admin_token = admin_token
        self.user = user
        #: A fan's bearer token (IDENTITY_MODE=jwt), sent instead of X-User-Id.
        self.token = token

    def request(self, method: str, path: str, body: Any = None, *, admin: bool = False,
                headers: dict[str, str] | None = None, expect: tuple[int, ...] | None = (200, 201, 202)) -> Response:
        """Send a request; raise AssertionError when the status is not in ``expect`` (None: any)."""
        h = {"Accept": "application/json", **(headers or {})}
        if admin:
            h["Authorization"] = f"Bearer {self.admin_token}"
        elif self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if self.user:
            h["X-User-Id"] = self.user
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        for attempt in range(BUSY_RETRIES + 1):
            req = urllib.request.Request(self.base_url + path, data=data, headers=h, method=method)
            try:
                with urllib.request.urlopen(req, timeout=20) as resp:
                    result = Response(resp.status, dict(resp.headers), resp.read())
            except urllib.error.HTTPError as err:
                result = Response(err.code, dict(err.headers), err.read())
            # A test's own setup asked while SQLite was locked (the first sweep reconciles the
            # sample events just after start-up): the server said 503, try again, as a client should.
            if result.status != 503 or expect is None or 503 in expect or attempt == BUSY_RETRIES:
                break
            time.sleep(BUSY_PAUSE_S)
        if expect is not None and result.status not in expect:
            raise AssertionError(f"{method} {path} -> {result.status}: {result.body[:500]!r}")
        return result

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw) -> Response:
        return self.request("POST", path, body, **kw)

    # -- scenes ----------------------------------------------------------------------------

    def create_event(self, name: str, *, on_sale_in_s: float, tiers: list[tuple[str, int, int]], **fields) -> dict:
        """An event (scheduled) with tiers (name, price_cents, capacity); returns the admin document."""
        event = self.post("/admin/events", {
            "name": name, "venue": "E2E Arena, Testville", "description": "Created by the end-to-end tests.",
            "starts_at": iso_in(30 * 86400), "on_sale_at": iso_in(on_sale_in_s), "status": "draft",
            "wave_size": fields.pop("wave_size", 50), "wave_interval_s": fields.pop("wave_interval_s", 1), **fields,
        }, admin=True).json()
        for tier_name, price, capacity in tiers:
            self.post("/admin/tiers", {"event_id": event["id"], "name": tier_name, "price_cents": price, "capacity": capacity, "per_user_limit": 4}, admin=True)
        self.request("PATCH", f"/admin/events/{event['id']}", {"status": "scheduled"}, admin=True)
        return self.get(f"/admin/events/{event['id']}", admin=True).json()

    def wait_for(self, what: str, fn, timeout_s: float = 20.0, every_s: float = 0.25):
        """Call fn() until it returns something truthy; return it, or fail naming ``what``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = fn()
            if value:
                return value
            time.sleep(every_s)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

    def admitted(self, event_id: str) -> str:
        """Join the event's waiting room and wait to be let in; return the room token."""
        token = self.post(f"/events/{event_id}/waiting-room/join").json()["token"]
        self.wait_for("admission", lambda: self.get(f"/events/{event_id}/waiting-room/status?token={token}").json().get("canEnter"))
        return token

    def hold(self, event_id: str, tier_id: str, *, token: str | None = None) -> dict:
        """Reserve one ticket (joining the room first unless ``token`` is given); return the held reservation."""
        token = token or self.admitted(event_id)
        res = self.post(f"/events/{event_id}/reservations", {"tier_id": tier_id, "quantity": 1, "token": token},
                        headers={"Prefer": "wait=5"}).json()
        return self.wait_for("the hold", lambda: (r := self.get(f"/reservations/{res['id']}").json())["status"] == "held" and r)

    def buy_ticket(self, event_id: str, tier_id: str, *, token: str | None = None) -> dict:
        """Join, wait to be admitted, reserve one ticket, pay; return the issued ticket."""
        res = self.hold(event_id, tier_id, token=token)
        session = self.post("/checkout/sessions", {"reservation_id": res["id"]}, headers={"Idempotency-Key": str(uuid.uuid4())}).json()
        self.post("/checkout/confirm", {"checkoutId": session["checkoutId"], "simulate": "success"}, headers={"Prefer": "wait=5"})
        # This event's ticket: the fan may hold tickets of other events too.
        return self.wait_for("the ticket", lambda: next((t for t in self.get("/me/tickets").json() if t["event"]["id"] == event_id), None))
