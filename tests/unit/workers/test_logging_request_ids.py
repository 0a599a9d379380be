"""Request ids follow the work: from the request into the messages it causes, into the actors'
log lines, and into the messages those actors send in turn."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import dramatiq
import pytest

from models.context import request_id_var
from tests.logcapture import json_log_lines

QUEUE = "ops_logging_test"
probe_log = logging.getLogger("tests.probe")


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def log_probe(step: int) -> None:
    probe_log.info("probe ran", extra={"step": step})
    if step == 0:
        log_probe.send(1)


@pytest.fixture
def json_lines():
    """JSON log lines of the probe and worker loggers, formatted as the processes write them."""
    with json_log_lines("tests.probe", "ticketdrop.workers") as lines:
        yield lines


@contextmanager
def in_request(request_id: str):
    """Run the block as code serving the request ``request_id``."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


def _drain(stub_broker, worker) -> None:
    stub_broker.join(QUEUE)
    worker.join()


def test_an_actor_logs_with_the_request_id_of_the_code_that_sent_it(stub_broker, stub_worker, json_lines):
    with in_request("trace-abc"):
        message = log_probe.send(1)
    _drain(stub_broker, stub_worker)
    assert message.options["request_id"] == "trace-abc"
    ran = [line for line in json_lines() if line["event"] == "probe ran"]
    assert [(line["step"], line["request_id"]) for line in ran] == [(1, "trace-abc")]


def test_messages_an_actor_sends_carry_the_same_request_id(stub_broker, stub_worker, json_lines):
    with in_request("trace-chain"):
        log_probe.send(0)
    _drain(stub_broker, stub_worker)
    ran = sorted((line["step"], line["request_id"]) for line in json_lines() if line["event"] == "probe ran")
    assert ran == [(0, "trace-chain"), (1, "trace-chain")]


def test_a_message_sent_outside_a_request_gets_its_own_id_and_none_leaks_between_messages(stub_broker, stub_worker, json_lines):
    with in_request("trace-first"):
        log_probe.send(1)
    _drain(stub_broker, stub_worker)
    message = log_probe.send(1)
    _drain(stub_broker, stub_worker)
    ids = [line["request_id"] for line in json_lines() if line["event"] == "probe ran"]
    assert ids == ["trace-first", f"msg-{message.message_id}"]
    assert "request_id" not in message.options


async def test_a_request_s_id_reaches_the_actor_it_enqueues(client, stub_worker, json_lines):
    resp = await client.get("/health?deep=1", headers={"X-Request-Id": "trace-http-1"})
    assert resp.status == 200
    finished = [line for line in json_lines() if line["event"] == "actor finished" and line["actor"] == "echo"]
    assert finished and finished[0]["request_id"] == "trace-http-1"
    assert finished[0]["process"] == "test" and "duration_ms" in finished[0]
