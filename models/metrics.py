"""Every Prometheus metric, defined once. Import and increment; never define metrics elsewhere.

With PROMETHEUS_MULTIPROC_DIR set (``make run`` sets it), prometheus-client writes per-process
files there and /metrics aggregates every web and worker process.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUEST_DURATION = Histogram(
    "ticketdrop_http_request_duration_seconds", "HTTP request latency by route",
    ["method", "route", "status"], buckets=_LATENCY_BUCKETS,
)
JOINS = Counter("ticketdrop_waiting_room_joins_total", "Waiting-room joins", ["outcome"])  # new | rejoin
ADMITTED = Counter("ticketdrop_admitted_total", "Queue positions admitted by waves")
ADMISSIONS_EXPIRED = Counter("ticketdrop_admissions_expired_total", "Admission windows that lapsed unused")
RESERVATIONS = Counter("ticketdrop_reservations_total", "Reservation requests by outcome", ["outcome"])
OVERSELL_ATTEMPTS = Counter("ticketdrop_oversell_attempts_total", "Reservation requests rejected for lack of stock")
HOLDS_RELEASED = Counter("ticketdrop_holds_released_total", "Holds returned to stock", ["reason"])  # expired|released|payment_failed
ORDERS_PAID = Counter("ticketdrop_orders_paid_total", "Orders paid")
PAYMENTS_FAILED = Counter("ticketdrop_payments_failed_total", "Simulated payments that failed")
TICKETS_ISSUED = Counter("ticketdrop_tickets_issued_total", "Tickets issued")
CHECK_INS = Counter("ticketdrop_check_ins_total", "Tickets checked in", ["result"])
RATE_LIMITED = Counter("ticketdrop_rate_limited_total", "Requests refused by a rate limit", ["scope"])
RATE_LIMITER_FAIL_OPEN = Counter("ticketdrop_rate_limiter_fail_open_total", "Requests let through because Redis was down")
ACTOR_DURATION = Histogram(
    "ticketdrop_actor_duration_seconds", "Actor run time", ["actor"], buckets=_LATENCY_BUCKETS,
)
ACTOR_FAILURES = Counter("ticketdrop_actor_failures_total", "Actor runs that raised", ["actor"])
SWEEPS = Counter("ticketdrop_sweep_items_total", "Items fixed by expiry & recovery sweeps", ["sweep"])
