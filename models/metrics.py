"""Every Prometheus metric, defined once. Import and increment; never define metrics elsewhere.

With PROMETHEUS_MULTIPROC_DIR set (``make run`` sets it), prometheus-client writes per-process
files there and /metrics aggregates every web and worker process.
"""

from __future__ import annotations

import os

from models.settings import metrics_dir_from_env

# prometheus-client reads PROMETHEUS_MULTIPROC_DIR itself and opens its per-process files there
# when the first metric below is built: make sure the directory exists, or the process fails here.
if _dir := metrics_dir_from_env():
    os.makedirs(_dir, exist_ok=True)

from prometheus_client import Counter, Histogram  # noqa: E402
from prometheus_client.core import GaugeMetricFamily

#: In seconds; 0.2 is there so a scrape can say whether a route met a 200 ms goal (issue 14).
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: In seconds: a loop that runs a timer 5 ms late already adds that to every request in flight.
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0)

HTTP_REQUEST_DURATION = Histogram(
    "ticketdrop_http_request_duration_seconds", "HTTP request latency by route",
    ["method", "route", "status"], buckets=_LATENCY_BUCKETS,
)
EVENT_LOOP_LAG = Histogram(
    "ticketdrop_event_loop_lag_seconds", "How late a web process's event loop ran a timer (what every request "
    "waits behind the loop's other work; web.looplag)", buckets=_LAG_BUCKETS,
)
JOINS = Counter("ticketdrop_waiting_room_joins_total", "Waiting-room joins", ["outcome"])  # new | rejoin (JOIN_TALLY)
ADMITTED = Counter("ticketdrop_admitted_total", "Queue positions admitted by waves")
ROOM_RESTORES = Counter("ticketdrop_waiting_room_restores_total", "Waiting rooms rebuilt from the database after a Redis loss")
ROOM_ROLLBACKS = Counter("ticketdrop_waiting_room_rollbacks_total",
                         "Live waiting rooms found behind the database (Redis came back with an earlier state)")
ADMISSIONS_EXPIRED = Counter("ticketdrop_admissions_expired_total", "Admission windows that lapsed unused")
RESERVATIONS = Counter("ticketdrop_reservations_total", "Reservation requests by outcome", ["outcome"])
OVERSELL_ATTEMPTS = Counter("ticketdrop_oversell_attempts_total", "Reservation requests rejected for lack of stock")
HOLDS_RELEASED = Counter("ticketdrop_holds_released_total", "Holds returned to stock", ["reason"])  # expired|released|payment_failed
ORDERS_PAID = Counter("ticketdrop_orders_paid_total", "Orders paid")
PAYMENTS_FAILED = Counter("ticketdrop_payments_failed_total", "Simulated payments that failed")
WAITLIST_OFFERS = Counter("ticketdrop_waitlist_offers_total", "Waitlist offers by outcome", ["outcome"])  # made|taken|lapsed
ORDERS_REFUNDED = Counter("ticketdrop_orders_refunded_total", "Orders canceled with a (simulated) refund", ["reason"])
TICKETS_ISSUED = Counter("ticketdrop_tickets_issued_total", "Tickets issued")
CHECK_INS = Counter("ticketdrop_check_ins_total", "Tickets checked in", ["result"])
RATE_LIMITED = Counter("ticketdrop_rate_limited_total", "Requests refused by a rate limit", ["scope"])
RATE_LIMITER_FAIL_OPEN = Counter("ticketdrop_rate_limiter_fail_open_total", "Requests let through because Redis was down")
ACTOR_DURATION = Histogram(
    "ticketdrop_actor_duration_seconds", "Actor run time", ["actor"], buckets=_LATENCY_BUCKETS,
)
ACTOR_FAILURES = Counter("ticketdrop_actor_failures_total", "Actor runs that raised", ["actor"])
SWEEPS = Counter("ticketdrop_sweep_items_total", "Items fixed by expiry & recovery sweeps", ["sweep"])
SWEEP_FAILURES = Counter("ticketdrop_sweep_failures_total", "Sweep runs that raised", ["sweep"])
#: Every statement this process sent to PostgreSQL (models.sqlcount), by its first keyword: "ping" is
#: the pool's ``SELECT 1``, "txn" BEGIN/COMMIT/ROLLBACK/SAVEPOINT. make bench-purchase divides it per order.
SQL_STATEMENTS = Counter("ticketdrop_sql_statements_total", "SQL statements sent to PostgreSQL", ["kind"])
SWEEP_DURATION = Histogram("ticketdrop_sweep_duration_seconds", "Sweep run time", ["sweep"], buckets=_LATENCY_BUCKETS)



class Tally:
    """A labelled Counter's increments kept in a plain dict and added to it in bulk by :meth:`flush`.

    ``counter.labels(...).inc()`` takes a lock per call (and in multiprocess mode writes a
    memory-mapped file): on a join, a request's hottest counter, that was about 1 µs. The web
    process flushes every tally (:func:`flush_tallies`) with its request timings, every second,
    and right before /metrics renders, so a scrape of the process is exact.
    """

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        #: label values -> increments not handed to the counter yet
        self._pending: dict[tuple[str, ...], int] = {}

    def add(self, *labels: str) -> None:
        pending = self._pending
        pending[labels] = pending.get(labels, 0) + 1

    def flush(self) -> None:
        """Add the pending increments to the counter (the event loop's thread only)."""
        pending, self._pending = self._pending, {}
        for labels, count in pending.items():
            self._counter.labels(*labels).inc(count)


#: Waiting-room joins by outcome (new | rejoin), counted by the web tier's RoomService.
JOIN_TALLY = Tally(JOINS)
#: Every Tally, flushed together (:func:`flush_tallies`).
TALLIES = (JOIN_TALLY,)


def flush_tallies() -> None:
    """Hand every tally's pending increments to prometheus-client."""
    for tally in TALLIES:
        tally.flush()


#: Gauges computed at scrape time from Redis and the database (models.operations.live_samples), so
#: they are right however many processes run; no process keeps them. name -> (help, label names).
LIVE_GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ticketdrop_queue_length": ("Waiting-room positions by state (waiting, admitted, expired)", ("event_id", "state")),
    "ticketdrop_active_holds": ("Live holds: granted, not expired, not converted", ("event_id",)),
    "ticketdrop_held_tickets": ("Tickets in live holds (database truth)", ("event_id", "tier_id")),
    "ticketdrop_remaining_tickets": ("Tickets neither sold nor held (database truth)", ("event_id", "tier_id")),
    "ticketdrop_reservation_mailbox_length": ("Reservation requests waiting for a decision", ("event_id",)),
    "ticketdrop_metrics_source_up": ("1 if this scrape could read the source (redis, database)", ("source",)),
}


class LiveCollector:
    """Yields :data:`LIVE_GAUGES` from ``samples``: name -> [(label values, value), ...]."""

    def __init__(self, samples: dict[str, list[tuple[tuple[str, ...], float]]]) -> None:
        self._samples = samples

    def collect(self):
        for name, (help_text, labels) in LIVE_GAUGES.items():
            family = GaugeMetricFamily(name, help_text, labels=list(labels))
            for label_values, value in self._samples.get(name, ()):
                family.add_metric(list(label_values), value)
            yield family
