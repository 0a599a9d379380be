"""GET /metrics: Prometheus text that prometheus-client parses, HTTP latency by route template,
scrape-time gauges from the database and Redis, and several processes summed."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta

import redis as redis_lib
from prometheus_client.parser import text_string_to_metric_families
from redis.backoff import NoBackoff
from redis.retry import Retry

from models.settings import ROOT
from models.tables import Event, Reservation, TicketTier, utcnow
from tests.factories import make_event, make_tier
from web import metrics
from web.appkeys import SYNC_REDIS


def parse(text: str) -> dict[str, list]:
    """metric family name -> samples."""
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def value(samples: list, name: str, **labels: str) -> float | None:
    for s in samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def event_with_tier(*, capacity: int = 10, sold: int = 0, held: int = 0, status: str = "on_sale") -> tuple[Event, TicketTier]:
    event = make_event(venue="Hall", status=status, on_sale_in_s=-60, starts_in_s=9 * 86_400)
    return event, make_tier(event, capacity=capacity, sold=sold, held=held)


def hold(event: Event, tier: TicketTier, *, quantity: int = 1, expires_in_s: float = 120, status: str = "held") -> Reservation:
    return Reservation.create(id=uuid.uuid4(), event=event, tier=tier, user_id=f"fan-{uuid.uuid4().hex[:6]}",
                              quantity=quantity, status=status, expires_at=utcnow() + timedelta(seconds=expires_in_s))


async def test_metrics_parse_and_time_requests_by_route_template(client):
    await client.get("/health")
    await client.get(f"/admin/events/{uuid.uuid4()}/status")  # 401: no token
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = parse(await resp.text())
    http = families["ticketdrop_http_request_duration_seconds"]
    assert value(http, "ticketdrop_http_request_duration_seconds_count", route="/health", method="GET", status="200") >= 1
    assert value(http, "ticketdrop_http_request_duration_seconds_count", route="/admin/events/{id}/status", status="401") >= 1
    for name in ("ticketdrop_orders_paid", "ticketdrop_tickets_issued", "ticketdrop_oversell_attempts", "ticketdrop_admitted",
                 "ticketdrop_reservations", "ticketdrop_actor_duration_seconds", "ticketdrop_actor_failures"):
        assert name in families, name


async def test_unknown_paths_share_one_route_label(client):
    await client.get(f"/no/such/{uuid.uuid4()}")
    families = parse(await (await client.get("/metrics")).text())
    routes = {s.labels["route"] for s in families["ticketdrop_http_request_duration_seconds"]}
    assert "unmatched" in routes
    assert not any(r.startswith("/no/such") for r in routes)


async def test_scrape_time_gauges_count_live_holds_and_stock_from_the_database(client):
    from web.dbexec import run_db

    def setup():
        event, tier = event_with_tier(capacity=10, sold=3, held=3)
        hold(event, tier, quantity=2)
        hold(event, tier, quantity=1, expires_in_s=-5)  # lapsed, not swept yet: not live
        event_with_tier(status="draft")
        return str(event.id), str(tier.id)

    event_id, tier_id = await run_db(client.server.app, setup)
    families = parse(await (await client.get("/metrics")).text())
    assert value(families["ticketdrop_active_holds"], "ticketdrop_active_holds", event_id=event_id) == 1
    assert value(families["ticketdrop_held_tickets"], "ticketdrop_held_tickets", event_id=event_id, tier_id=tier_id) == 3
    assert value(families["ticketdrop_remaining_tickets"], "ticketdrop_remaining_tickets", tier_id=tier_id) == 4
    assert len(families["ticketdrop_active_holds"]) == 1  # drafts are not described
    assert value(families["ticketdrop_metrics_source_up"], "ticketdrop_metrics_source_up", source="database") == 1


async def test_a_scrape_during_a_redis_outage_still_answers(aiohttp_client, app):
    app[SYNC_REDIS] = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    client = await aiohttp_client(app)
    from web.dbexec import run_db

    await run_db(app, event_with_tier)
    resp = await client.get("/metrics")
    assert resp.status == 200
    families = parse(await resp.text())
    assert value(families["ticketdrop_metrics_source_up"], "ticketdrop_metrics_source_up", source="redis") == 0
    assert value(families["ticketdrop_metrics_source_up"], "ticketdrop_metrics_source_up", source="database") == 1
    assert families["ticketdrop_queue_length"] == []


_CHILD = """
from models.metrics import ACTOR_DURATION, HTTP_REQUEST_DURATION, ORDERS_PAID
ORDERS_PAID.inc({n})
HTTP_REQUEST_DURATION.labels("GET", "/health", "200").observe(0.01)
ACTOR_DURATION.labels("drain_event").observe(0.2)
"""


def test_several_processes_are_summed_in_multiprocess_mode(tmp_path):
    directory = tmp_path / "metrics"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(ROOT)}
    for n in (2, 3):  # the directory does not exist yet: the first process makes it
        subprocess.run([sys.executable, "-c", _CHILD.format(n=n)], env=env, cwd=ROOT, check=True, timeout=60)
    assert len(list(directory.glob("*.db"))) >= 2
    families = parse(metrics.render(str(directory), {}).decode())
    assert value(families["ticketdrop_orders_paid"], "ticketdrop_orders_paid_total") == 5
    assert value(families["ticketdrop_http_request_duration_seconds"], "ticketdrop_http_request_duration_seconds_count",
                 route="/health") == 2
    assert value(families["ticketdrop_actor_duration_seconds"], "ticketdrop_actor_duration_seconds_count",
                 actor="drain_event") == 2


def test_request_timings_flushed_in_bulk_equal_one_observe_per_request():
    from prometheus_client import CollectorRegistry, Histogram

    registry = CollectorRegistry()
    buckets = (0.001, 0.01, 0.1, 1.0)
    bulk = Histogram("bulk_seconds", "h", ["method", "route", "status"], buckets=buckets, registry=registry)
    one = Histogram("one_seconds", "h", ["method", "route", "status"], buckets=buckets, registry=registry)
    timings = metrics.RequestTimings(bulk)
    seen = [("GET", "/a", 200, 0.0005), ("GET", "/a", 200, 0.001), ("GET", "/a", 200, 0.05), ("POST", "/b", 201, 3.0),
            ("GET", "/a", 404, 0.1), ("BREW", "unmatched", 405, 0.2)]
    for method, route, status, seconds in seen:
        timings.observe(method, route, status, seconds)
        one.labels(method if method != "BREW" else "OTHER", route, str(status)).observe(seconds)
    timings.flush()
    timings.flush()  # nothing pending: adds nothing
    families = {f.name: f.samples for f in registry.collect()}
    assert [(s.name.replace("bulk", "x"), s.labels, s.value) for s in families["bulk_seconds"] if not s.name.endswith("_created")] == [
        (s.name.replace("one", "x"), s.labels, s.value) for s in families["one_seconds"] if not s.name.endswith("_created")]


async def test_a_scrape_counts_the_requests_this_process_served_just_before_it(client):
    for _ in range(3):
        await client.get("/health")
    families = parse(await (await client.get("/metrics")).text())
    before = value(families["ticketdrop_http_request_duration_seconds"], "ticketdrop_http_request_duration_seconds_count",
                   route="/health", method="GET", status="200")
    await client.get("/health")
    families = parse(await (await client.get("/metrics")).text())
    assert value(families["ticketdrop_http_request_duration_seconds"], "ticketdrop_http_request_duration_seconds_count",
                 route="/health", method="GET", status="200") == before + 1


async def test_a_scrape_counts_the_joins_this_process_served_just_before_it(client, db):
    event = make_event(on_sale_in_s=-5)

    def joins(families) -> float:
        return value(families["ticketdrop_waiting_room_joins"], "ticketdrop_waiting_room_joins_total", outcome="new")

    await client.post(f"/events/{event.id}/waiting-room/join", headers={"X-User-Id": "fan-1"})
    before = joins(parse(await (await client.get("/metrics")).text()))
    await client.post(f"/events/{event.id}/waiting-room/join", headers={"X-User-Id": "fan-2"})
    assert joins(parse(await (await client.get("/metrics")).text())) == before + 1
