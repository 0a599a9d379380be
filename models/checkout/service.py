"""The web tier's checkout service: :class:`CheckoutService`, built once per process with its
dependencies. It opens sessions, records confirms and sends the messages they need (settle,
expire), waits for the outcome when asked to, and reads sessions and orders.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from models.checkout.batch import claim_settle
from models.checkout.confirm import ConfirmStart, begin_confirm, refusal_error
from models.checkout.documents import get_session_document
from models.checkout.idempotency import Replay
from models.checkout.orders import user_orders
from models.checkout.sessions import Opened, open_session, raise_if_pending
from models.commands import commands, off_loop
from models.errors import Conflict, EventNotOnSale, Gone, NotFound, TicketDropError
from models.keys import Keys
from models.reservations.holds import apply_transition
from models.settings import Settings

RunBlocking = Callable[..., Awaitable[Any]]
#: ``waiter(session_id)``: an async context manager, registered before the confirm is recorded,
#: whose ``wait(seconds)`` returns the published outcome or None (the web tier's outcome hub).
Waiter = Callable[[str], Any]


def decided_error(document: dict) -> TicketDropError | None:
    """The error a confirm that waited for its outcome answers a failed or expired session with."""
    reason = document.get("failure_reason") or ""
    if document["status"] == "failed" and reason == "event_not_on_sale":
        return EventNotOnSale("The sale of this event has ended; nothing was charged and the hold is released",
                              reason=reason, checkout=document)
    if document["status"] == "failed":
        return Conflict("The payment failed; the tickets are back on sale", reason="payment_failed", checkout=document)
    if document["status"] == "expired" and reason.startswith("reservation_"):
        return Conflict("The reservation was released before payment; nothing was charged", reason=reason,
                        checkout=document)
    if document["status"] == "expired":
        return Gone("The hold expired before payment; nothing was charged", reason="hold_expired", checkout=document)
    return None


def settling(document: dict) -> bool:
    """Still changing: the payment is undecided, or the tickets are not all issued yet."""
    return document["status"] == "processing" or (document["status"] == "paid" and len(document["tickets"]) < document["quantity"])


class CheckoutService:
    """Checkout for the web tier: open a session, confirm it (and wait), read sessions and orders."""

    def __init__(self, *, redis: Any, keys: Keys, settings: Settings, run_blocking: RunBlocking,
                 command: Callable[..., Awaitable[Any]] | None = None) -> None:
        """``command(*args)``: how to send a Redis command (the web process's CommandBatcher;
        None: with redis-py)."""
        self.redis, self.keys, self.settings = redis, keys, settings
        self.run_blocking, self.command = run_blocking, command

    async def open(self, *, user_id: str, reservation_id: str, idempotency_key: str) -> Opened | Replay:
        """Open (or get back) the reservation's session, recording the key in the same transaction.
        Raises what open_session raises; Conflict (Retry-After) while the reservation is pending."""
        try:
            return await self.run_blocking(open_session, user_id=user_id, reservation_id=reservation_id,
                                           idempotency_key=idempotency_key, ttl_s=self.settings.idempotency_ttl_s)
        except NotFound:
            await raise_if_pending(self.redis, self.keys, reservation_id, user_id)
            raise

    async def confirm(self, *, user_id: str, session_id: str, simulate: str, waiter: Waiter | None = None,
                      wait_s: float = 0) -> dict:
        """Record the confirm and make sure a settle message is on its way. With ``waiter`` and
        ``wait_s``, wait up to ``wait_s`` for the outcome. Returns the session's document
        (processing while undecided). Raises the refusal (410 hold expired, 409 sale ended) and,
        after waiting, the decided failure (:func:`decided_error`)."""
        if waiter is None or not wait_s:
            return (await self._begin(user_id, session_id, simulate)).document
        async with waiter(str(session_id)) as w:  # registered first: a later outcome is not missed
            start = await self._begin(user_id, session_id, simulate)
            if start.document["status"] != "processing":
                return start.document  # paid already: the same result again
            outcome = await w.wait(wait_s)
        if outcome is None:
            return start.document
        document = outcome.get("document") or await self.session(user_id, start.document["id"])
        error = decided_error(document)
        if error is not None:
            raise error
        return document

    async def _begin(self, user_id: str, session_id: str, simulate: str) -> ConfirmStart:
        start = await self.run_blocking(begin_confirm, user_id=user_id, session_id=session_id, simulate=simulate)
        if start.refusal == "hold_expired":
            await off_loop(commands().send_expire_checkout, start.document["id"])
            raise refusal_error(start)
        if start.refusal is not None:
            if start.ended_hold is not None:
                await apply_transition(self.redis, self.keys, start.ended_hold)
            raise refusal_error(start)
        if start.enqueue and await claim_settle(self.redis, self.keys, start.event_id, command=self.command):
            await off_loop(commands().send_settle, start.event_id)
        return start

    async def session(self, user_id: str, session_id: str, waiter: Waiter | None = None, wait_s: float = 0) -> dict:
        """The session's document; with ``waiter`` and ``wait_s``, waits for it to settle."""
        document = await self.run_blocking(get_session_document, user_id, session_id)
        if waiter is not None and wait_s and settling(document):
            async with waiter(session_id) as w:
                # Read again once registered: an outcome published before that is not missed.
                document = await self.run_blocking(get_session_document, user_id, session_id)
                if settling(document) and await w.wait(wait_s) is not None:
                    document = await self.run_blocking(get_session_document, user_id, session_id)
        return document

    async def orders(self, user_id: str) -> list:
        return await self.run_blocking(user_orders, user_id)
