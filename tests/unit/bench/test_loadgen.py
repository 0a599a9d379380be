import time

from aiohttp import web

from bench.loadgen import Latencies, open_loop, percentile, run_load


async def _server(aiohttp_server):
    async def ok(request):
        return web.json_response({"ok": True})

    async def boom(request):
        return web.json_response({"error": True}, status=503)

    app = web.Application()
    app.router.add_get("/", ok)
    app.router.add_get("/boom", boom)
    return await aiohttp_server(app)


def test_percentile_uses_nearest_rank_and_is_zero_when_empty():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([], 95) == 0.0


def test_latencies_summarise_count_and_percentiles():
    lat = Latencies()
    lat.extend(float(v) for v in range(1, 1001))
    summary = lat.summary()
    assert summary["count"] == 1000
    assert summary["p95"] == 950.0
    assert summary["max"] == 1000.0


async def test_run_load_issues_exactly_total_requests_and_counts_statuses(aiohttp_server):
    server = await _server(aiohttp_server)
    seen = []

    async def hit(session, i):
        seen.append(i)
        async with session.get(server.make_url("/")) as resp:
            await resp.read()
            return resp.status

    result = await run_load(hit, concurrency=8, total=200)
    assert result.count == 200
    assert sorted(seen) == list(range(200))
    assert result.errors == 0
    assert result.statuses == {200: 200}
    assert 0 < result.p50 <= result.p95 <= result.p99
    assert result.rps > 0


async def test_run_load_counts_5xx_and_connection_failures_as_errors(aiohttp_server):
    server = await _server(aiohttp_server)

    async def hit(session, i):
        url = server.make_url("/boom") if i % 2 else "http://127.0.0.1:9/"  # port 9: nothing listens
        async with session.get(url) as resp:
            return resp.status

    result = await run_load(hit, concurrency=4, total=20)
    assert result.count == 20
    assert result.errors == 20
    assert result.statuses == {503: 10, 0: 10}


async def test_run_load_starts_no_request_once_the_duration_has_passed(aiohttp_server):
    # On a clock of the test's own, on which every answer comes a quarter of a second after the
    # last one: what the run does depends on that clock alone, not on how fast this machine is.
    server = await _server(aiohttp_server)
    now = 0.0
    started = []

    async def hit(session, i):
        nonlocal now
        started.append(now)
        async with session.get(server.make_url("/")) as resp:
            now += 0.25
            return resp.status

    result = await run_load(hit, concurrency=4, duration_s=1.0, clock=lambda: now)
    # the 4 workers' first requests, then one more after each answer before the 1 s deadline
    # (at 0.25, 0.5 and 0.75 s); the answers at 1.0 s and after start nothing
    assert sorted(started) == [0.0, 0.0, 0.0, 0.0, 0.25, 0.5, 0.75]
    assert result.count == 7 and result.statuses == {200: 7}
    assert result.elapsed_s == 1.75 and result.rps == 4.0


async def test_run_load_refuses_an_unbounded_run():
    import pytest

    with pytest.raises(ValueError):
        await run_load(lambda s, i: None, concurrency=1)


async def test_open_loop_starts_one_item_every_interval_and_answers_results_in_order():
    started = []

    async def start(item):
        started.append(time.perf_counter())
        return item * 2

    t0 = time.perf_counter()
    assert await open_loop([1, 2, 3, 4], 50.0, start) == [2, 4, 6, 8]
    offsets = [s - t0 for s in started]
    assert all(offset >= i / 50.0 - 0.002 for i, offset in enumerate(offsets))
    assert offsets[-1] >= 0.058
