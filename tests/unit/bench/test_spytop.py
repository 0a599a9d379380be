import json

from bench.spytop import parse, render, summarize, versus

RAW = """\
_run (web/app.py:10);open_session (models/checkout/sessions.py:65);Database.execute (peewee.py:3934);Context.sql (peewee.py:709) 6
_run (web/app.py:10);get (redis/asyncio/client.py:5) 3
_worker (dramatiq/worker.py:1);settle (models/checkout/confirm.py:9);settle (models/checkout/confirm.py:12);Context.sql (peewee.py:709) 1
not a stack line
"""


def test_samples_are_counted_by_top_frame_by_our_functions_and_by_library():
    summary = summarize(parse(RAW.splitlines()))
    assert summary["total"]["samples"] == 10
    assert summary["self"]["Context.sql (peewee.py)"] == 7
    assert summary["ours"]["_run (web/app.py)"] == 9
    assert summary["ours"]["settle (models/checkout/confirm.py)"] == 1  # recursion counts once per sample
    assert summary["libraries"] == {"peewee": 7, "redis": 3, "dramatiq": 1}


def test_the_tables_show_shares_of_all_samples():
    text = render(summarize(parse(RAW.splitlines())), top=2)
    assert text.startswith("10 samples")
    assert "| peewee | 70% |" in text
    assert "| Context.sql (peewee.py) | 70% |" in text


def _profile(folder, name: str, pid: int, lines: str, requests: int) -> str:
    prefix = folder / name
    (folder / f"{name}-{pid}.txt").write_text(lines)
    (folder / f"{name}.json").write_text(json.dumps({"requests": requests, "rate_hz": 250,
                                                    "server_cpu_us_per_request": 100.0, "pids": [pid]}))
    return str(prefix)


def test_versus_gives_each_functions_microseconds_per_request_beyond_the_yardstick(tmp_path):
    # 250 samples/s: a sample is 4,000 µs of the GIL held; over 1,000 requests, 4 µs per request.
    base = _profile(tmp_path, "base", 1, "start (aiohttp/web_protocol.py:1) 10\n", 1_000)
    route = _profile(tmp_path, "route", 2, "start (aiohttp/web_protocol.py:1) 10\n"
                                           "edge (web/middleware.py:5) 5\n", 500)
    (tmp_path / "route-3.txt").write_text("edge (web/middleware.py:5) 5\n")  # a second web process

    text = versus(route, base, top=5)

    assert text.startswith("GIL-held µs per request: route 160.0")
    assert "yardstick 40.0" in text and ": +120.0" in text
    assert "| edge (web/middleware.py) | 80.0 | 0.0 | +80.0 |" in text
    assert "| start (aiohttp/web_protocol.py) | 80.0 | 40.0 | +40.0 |" in text
    assert "| ours | 80.0 | 0.0 | +80.0 |" in text
    assert "| aiohttp | 80.0 | 40.0 | +40.0 |" in text


def test_a_profile_with_a_frame_name_that_is_not_utf8_is_still_read(tmp_path):
    base = _profile(tmp_path, "base", 1, "start (aiohttp/web_protocol.py:1) 10\n", 1_000)
    route = _profile(tmp_path, "route", 2, "", 1_000)
    (tmp_path / "route-2.txt").write_bytes(b"start (aiohttp/web_protocol.py:1) 10\n<lambda\xf9> (<string>) 5\n")

    text = versus(route, base, top=5)

    assert "| start (aiohttp/web_protocol.py) | 40.0 | 40.0 | +0.0 |" in text
