"""The status prober: a light process of its own timing real fans' status reads (bench/drop/prober.py)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from array import array
from collections import Counter

import pytest
from aiohttp import web

from bench.drop import prober
from bench.drop.client import Recorder
from bench.drop.prober import ProbeResult, Tokens
from tests.unit.bench.fake_api import FakeDrop


def test_every_token_is_read_once_before_any_is_read_again_and_repeats_are_counted():
    tokens = Tokens([f"tok-{i}" for i in range(5)], random.Random(3))
    first = [tokens.take() for _ in range(5)]
    assert sorted(first) == [f"tok-{i}" for i in range(5)]
    assert tokens.repeats == 0
    assert [tokens.take() for _ in range(5)] == first  # the second pass in the same order
    assert tokens.repeats == 5


def test_a_prober_without_tokens_is_refused():
    with pytest.raises(ValueError):
        Tokens([], random.Random(1))


def _result() -> ProbeResult:
    """Reads of 10 ms before 10 s and of 100-199 ms after it; a connection wait and a late loop only after 10 s."""
    rec = Recorder(0.0)
    for i in range(100):
        rec.request("status", i / 10, 10.0, 200)
    for i in range(100):
        rec.request("status", 10 + i / 10, 100.0 + i, 200 if i else 503)
    result = ProbeResult(rec, probes=8, poll_s=2.0, repeats=3)
    for t in range(20):
        result.wait_t.append(float(t))
        result.wait_ms.append(0.0 if t < 10 else 5.0)
    for i in range(400):  # a timer every 50 ms; late 50 ms each after 10 s
        result.lag_t.append(i * 0.05)
        result.lag_ms.append(0.0 if i < 200 else 50.0)
    return result


def test_the_figures_are_split_by_phase_with_the_wait_and_the_probers_own_loop_lag():
    phases = [("before", 0.0, 10.0), ("after", 10.0, 20.0), ("empty", 30.0, 40.0)]
    figures = _result().by_phase(phases)
    before, after = figures["before"], figures["after"]
    assert before["status"]["count"] == 100 and before["status"]["p99"] == 10.0 and before["status"]["errors"] == 0
    assert after["status"]["count"] == 100 and after["status"]["p99"] == 198.0 and after["status"]["errors"] == 1
    assert before["wait"]["max"] == 0.0 and after["wait"]["max"] == 5.0
    assert before["loop"]["late_share"] == 0.0 and after["loop"]["late_share"] == 0.5
    assert figures["empty"]["status"] is None


def test_the_figures_survive_the_trip_from_the_probers_process():
    phases = [("before", 0.0, 10.0), ("after", 10.0, 20.0)]
    result = _result()
    back = ProbeResult.from_json(json.loads(json.dumps(result.to_json())), 0.0)
    assert back.by_phase(phases) == result.by_phase(phases)
    assert (back.probes, back.poll_s, back.repeats) == (8, 2.0, 3)


async def test_the_prober_reads_every_fans_status_in_turn_and_finishes_the_reads_in_flight_when_stopped(aiohttp_server):
    users = [f"fan-{i}" for i in range(5)]
    reads: Counter = Counter()
    stop = asyncio.Event()

    async def status(request: web.Request) -> web.Response:
        reads[request.query["token"]] += 1
        if sum(reads.values()) == 12:
            stop.set()  # while this read is still in flight
            await asyncio.sleep(0.05)
        return web.json_response({"state": "sale_open", "position": 1})

    app = web.Application()
    app.router.add_get("/events/e/waiting-room/status", status)
    server = await aiohttp_server(app)
    result = await asyncio.wait_for(prober.run(str(server.make_url("/")), "e", [f"tok-{u}" for u in users],
                                               t0=time.monotonic(), start_at=0.0, probes=3, poll_s=0.02, stop=stop), 60)
    assert max(reads.values()) - min(reads.values()) <= 1 and set(reads) == {f"tok-{u}" for u in users}
    samples = result.recorder.endpoints["status"]
    assert len(samples.t) == sum(reads.values()) >= 12
    assert set(samples.status) == {200}  # the read in flight at the stop was answered, not cut off
    assert result.repeats == len(samples.t) - len(users)
    assert len(result.wait_ms) == len(samples.t) and len(result.lag_ms) > 0


async def test_a_prober_stopped_before_its_start_reads_nothing(aiohttp_server):
    fake = FakeDrop()
    server = await aiohttp_server(fake.app())
    stop = asyncio.Event()
    stop.set()
    result = await prober.run(str(server.make_url("/")), fake.event_id, ["tok-a"], t0=time.monotonic(), start_at=3600.0,
                              probes=2, poll_s=0.02, stop=stop)
    assert fake.requests == 0 and "status" not in result.recorder.endpoints
    assert result.wait_ms == array("d")


async def test_the_probers_process_reads_statuses_until_stopped_and_hands_its_figures_back(aiohttp_server, tmp_path):
    fake = FakeDrop()
    users = [f"fan-{i}" for i in range(50)]
    fake.positions.update({user: i for i, user in enumerate(users, start=1)})
    server = await aiohttp_server(fake.app())
    t0 = time.monotonic()
    process = prober.Prober(tmp_path, str(server.make_url("/")), fake.event_id, [f"tok-{u}" for u in users], t0=t0,
                            start_at=0.0, probes=4, poll_s=0.05)
    process.start()
    try:
        # The child's interpreter starts first: the bound only turns a hang into a failure.
        async with asyncio.timeout(120):
            while sum(fake.status_reads.values()) < 10:
                await asyncio.sleep(0.05)
    finally:
        result = await asyncio.to_thread(process.finish)
    assert result is not None
    samples = result.recorder.endpoints["status"]
    assert len(samples.t) >= 10 and set(samples.status) == {200}
    assert all(0 <= t <= time.monotonic() - t0 for t in samples.t)  # on the run's clock
    assert (tmp_path / "tokens.txt").read_text().splitlines() == [f"tok-{u}" for u in users]
