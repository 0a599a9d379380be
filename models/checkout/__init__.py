"""Checkout: Idempotency-Key handling, sessions, the simulated payment, orders.

Web handlers and actors call these; tickets live in models.tickets (issuance) and
models.ticket_scan (verify, check-in).
"""

from models.checkout.batch import Settled, claim_settle, settle_batch, settle_event, settle_flag_kept
from models.checkout.confirm import ConfirmStart, Settlement, begin_confirm, settle
from models.checkout.documents import get_session_document, owned_session, session_document, session_location
from models.checkout.orders import user_orders
from models.checkout.recovery import expire_session, expire_stale_sessions
from models.checkout.sessions import Opened, check_payable, open_session, raise_if_pending
from models.tickets import issue_missing_tickets

__all__ = [
    "ConfirmStart", "Opened", "Settlement", "begin_confirm", "check_payable", "expire_session", "expire_stale_sessions",
    "get_session_document", "issue_missing_tickets", "open_session", "owned_session", "raise_if_pending",
    "session_document", "session_location", "settle", "Settled", "claim_settle", "settle_batch", "settle_event",
    "settle_flag_kept", "user_orders",
]
