"""Domain errors, one hierarchy, rendered as RFC 9457 problem+json in one place (web/problems.py).

    TicketDropError                 500 internal
    +-- ConfigError                 (start-up only: a bad environment variable)
    +-- InvalidInput                400 bad request (malformed JSON, headers)
    |   +-- ValidationFailed        422 a field breaks a rule
    +-- Unauthorized                401 no credentials
    +-- Forbidden                   403 wrong credentials, token not yours / not admitted
    +-- NotFound                    404
    +-- MethodNotAllowed            405
    +-- RequestTimeout              408 the body did not arrive in time
    +-- Conflict                    409 state does not allow it
    |   +-- IllegalTransition       409 status move not allowed
    |   +-- EventNotOnSale          409
    |   +-- EventPaused             409
    |   +-- SoldOut                 409
    |   +-- LimitExceeded           409 per-event purchase cap
    |   +-- InFlight                409 same Idempotency-Key still running (Retry-After)
    +-- Gone                        410 hold or session expired
    +-- PayloadTooLarge             413
    +-- UnsupportedMediaType        415
    +-- IdempotencyMismatch         422 same key, different payload
    +-- RateLimited                 429 (Retry-After)
    +-- Unavailable                 503 a backing service is down (Retry-After)
        +-- RoomRestoring           503 the waiting room is being rebuilt after a Redis loss
"""

from __future__ import annotations

from typing import Any


class TicketDropError(Exception):
    """Base of every error we raise on purpose. A subclass names its HTTP status (inherited when
    not given), its problem ``code`` and ``title`` in its class header:
    ``class NotFound(TicketDropError, status=404, code="not_found", title="Not found")``."""

    status = 500
    code = "internal"
    title = "Internal error"

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None, title: str | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code
        if title is not None:
            cls.title = title

    def __init__(
        self,
        detail: str | None = None,
        *,
        field: str | None = None,
        errors: list[dict[str, str]] | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors or [])
        if field is not None and not any(e.get("field") == field for e in self.errors):
            self.errors.insert(0, {"field": field, "message": self.detail})
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        self.extra = extra


class ConfigError(TicketDropError, code="config", title="Bad configuration"):
    """An environment variable is missing or malformed."""


class InvalidInput(TicketDropError, status=400, code="invalid_input", title="Invalid input"):
    """The request cannot be parsed (malformed JSON, bad header, bad query)."""


class ValidationFailed(InvalidInput, status=422, code="validation_failed", title="Validation failed"):
    """The request parses but a field breaks a rule."""


class Unauthorized(TicketDropError, status=401, code="unauthorized", title="Authentication required"):
    """Credentials are missing."""


class Forbidden(TicketDropError, status=403, code="forbidden", title="Forbidden"):
    """Credentials are wrong or do not allow this."""


class NotFound(TicketDropError, status=404, code="not_found", title="Not found"):
    """No such resource (or not visible to you)."""


class MethodNotAllowed(TicketDropError, status=405, code="method_not_allowed", title="Method not allowed"):
    """The route exists but not with this method."""


class RequestTimeout(TicketDropError, status=408, code="request_timeout", title="Request timeout"):
    """The request body did not arrive within BODY_READ_TIMEOUT_S."""


class Conflict(TicketDropError, status=409, code="conflict", title="Conflict"):
    """The resource's state does not allow this request."""


class IllegalTransition(Conflict, code="illegal_transition", title="Illegal status transition"):
    """A status move that the lifecycle forbids."""


class EventNotOnSale(Conflict, code="event_not_on_sale", title="Event is not on sale"):
    """The event is not on sale (not yet, closed or canceled)."""


class EventPaused(Conflict, code="event_paused", title="Sale is paused"):
    """An operator paused the sale."""


class SoldOut(Conflict, code="sold_out", title="Sold out"):
    """Nothing left to sell."""


class Rejected(Conflict):
    """The drainer rejected the reservation for a reason with no error of its own (the reason is the code)."""

    def __init__(self, detail: str | None = None, *, reason: str, **kwargs: Any) -> None:
        super().__init__(detail, reason=reason, **kwargs)
        self.code = reason


class LimitExceeded(Conflict, code="limit_exceeded", title="Purchase limit exceeded"):
    """The per-event purchase cap would be exceeded."""


class InFlight(Conflict, code="request_in_flight", title="Request with this Idempotency-Key is in progress"):
    """A request with the same Idempotency-Key is still being processed."""


class Gone(TicketDropError, status=410, code="expired", title="Expired"):
    """The hold or session has expired."""


class PayloadTooLarge(TicketDropError, status=413, code="payload_too_large", title="Payload too large"):
    """The body is over the size limit."""


class UnsupportedMediaType(TicketDropError, status=415, code="unsupported_media_type", title="Unsupported media type"):
    """The body is not JSON."""


class IdempotencyMismatch(TicketDropError, status=422, code="idempotency_key_reused",
                          title="Idempotency-Key reused with a different payload"):
    """The Idempotency-Key was used before with a different payload."""


class RateLimited(TicketDropError, status=429, code="rate_limited", title="Too many requests"):
    """Too many requests; ``retry_after`` says when to come back."""


class Unavailable(TicketDropError, status=503, code="unavailable", title="Service unavailable"):
    """A backing service (database, Redis, broker) is down or busy."""


class RoomRestoring(Unavailable):
    """The waiting room was lost with Redis and the wave tick is rebuilding it: places are kept,
    so the fan retries instead of joining again."""

    def __init__(self) -> None:
        super().__init__("The waiting room is being restored after a fault; your place is kept, retry shortly",
                         retry_after=1, reason="room_restoring")
