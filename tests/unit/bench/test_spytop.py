from bench.spytop import parse, render, summarize

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
