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
    """Base of every error we raise on purpose."""

    status = 500
    code = "internal"
    title = "Internal error"

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


class ConfigError(TicketDropError):
    """An environment variable is missing or malformed."""

    code = "config"
    title = "Bad configuration"


class InvalidInput(TicketDropError):
    """The request cannot be parsed (malformed JSON, bad header, bad query)."""

    status = 400
    code = "invalid_input"
    title = "Invalid input"


class ValidationFailed(InvalidInput):
    """The request parses but a field breaks a rule."""

    status = 422
    code = "validation_failed"
    title = "Validation failed"


class Unauthorized(TicketDropError):
    """Credentials are missing."""

    status = 401
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(TicketDropError):
    """Credentials are wrong or do not allow this."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(TicketDropError):
    """No such resource (or not visible to you)."""

    status = 404
    code = "not_found"
    title = "Not found"


class MethodNotAllowed(TicketDropError):
    """The route exists but not with this method."""

    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


class RequestTimeout(TicketDropError):
    """The request body did not arrive within BODY_READ_TIMEOUT_S."""

    status = 408
    code = "request_timeout"
    title = "Request timeout"


class Conflict(TicketDropError):
    """The resource's state does not allow this request."""

    status = 409
    code = "conflict"
    title = "Conflict"


class IllegalTransition(Conflict):
    """A status move that the lifecycle forbids."""

    code = "illegal_transition"
    title = "Illegal status transition"


class EventNotOnSale(Conflict):
    """The event is not on sale (not yet, closed or canceled)."""

    code = "event_not_on_sale"
    title = "Event is not on sale"


class EventPaused(Conflict):
    """An operator paused the sale."""

    code = "event_paused"
    title = "Sale is paused"


class SoldOut(Conflict):
    """Nothing left to sell."""

    code = "sold_out"
    title = "Sold out"


class Rejected(Conflict):
    """The drainer rejected the reservation for a reason with no error of its own (the reason is the code)."""

    def __init__(self, detail: str | None = None, *, reason: str, **kwargs: Any) -> None:
        super().__init__(detail, reason=reason, **kwargs)
        self.code = reason


class LimitExceeded(Conflict):
    """The per-event purchase cap would be exceeded."""

    code = "limit_exceeded"
    title = "Purchase limit exceeded"


class InFlight(Conflict):
    """A request with the same Idempotency-Key is still being processed."""

    code = "request_in_flight"
    title = "Request with this Idempotency-Key is in progress"


class Gone(TicketDropError):
    """The hold or session has expired."""

    status = 410
    code = "expired"
    title = "Expired"


class PayloadTooLarge(TicketDropError):
    """The body is over the size limit."""

    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(TicketDropError):
    """The body is not JSON."""

    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class IdempotencyMismatch(TicketDropError):
    """The Idempotency-Key was used before with a different payload."""

    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused with a different payload"


class RateLimited(TicketDropError):
    """Too many requests; ``retry_after`` says when to come back."""

    status = 429
    code = "rate_limited"
    title = "Too many requests"


class Unavailable(TicketDropError):
    """A backing service (database, Redis, broker) is down or busy."""

    status = 503
    code = "unavailable"
    title = "Service unavailable"


class RoomRestoring(Unavailable):
    """The waiting room was lost with Redis and the wave tick is rebuilding it: places are kept,
    so the fan retries instead of joining again."""

    def __init__(self) -> None:
        super().__init__("The waiting room is being restored after a fault; your place is kept, retry shortly",
                         retry_after=1, reason="room_restoring")
