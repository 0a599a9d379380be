"""The drop's view of the web tier between two readings of its multiprocess metrics (bench/drop/servertimes.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.drop import servertimes
from bench.drop.servertimes import Histogram
from models.settings import ROOT
from web.looplag import LAG_INTERVAL_S

INF = float("inf")


def test_a_quantile_is_interpolated_inside_its_bucket_as_prometheus_does():
    histogram = Histogram((0.1, 0.2, INF), (50, 100, 100))
    assert histogram.quantile(0.5) == pytest.approx(0.1)
    assert histogram.quantile(0.75) == pytest.approx(0.15)
    assert histogram.quantile(0.99) == pytest.approx(0.198)


def test_a_quantile_in_the_last_bucket_is_the_highest_finite_bound_and_an_empty_histogram_has_none():
    assert Histogram((0.1, INF), (1, 10)).quantile(0.99) == 0.1
    assert Histogram((0.1, INF), (0, 0)).quantile(0.5) is None


def test_the_later_reading_minus_the_earlier_keeps_only_what_happened_in_between():
    earlier, later = Histogram((0.1, INF), (90, 100), 2.0), Histogram((0.1, INF), (90, 110), 5.0)
    assert later.minus(earlier) == Histogram((0.1, INF), (0, 10), 3.0)
    assert later.minus(None) is later
    with pytest.raises(ValueError):
        later.minus(Histogram((0.2, INF), (0, 0)))


_CHILD = """
from models.metrics import EVENT_LOOP_LAG, HTTP_REQUEST_DURATION
for seconds in {seconds}:
    HTTP_REQUEST_DURATION.labels("GET", "/events/{{id}}/waiting-room/status", "200").observe(seconds)
HTTP_REQUEST_DURATION.labels("GET", "/events/{{id}}/waiting-room/status", "304").observe(0.001)
EVENT_LOOP_LAG.observe(0.3)
"""


def _process_observes(directory, seconds: list[float]) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", _CHILD.format(seconds=seconds)], env=env, cwd=ROOT, check=True, timeout=60)


def test_two_readings_give_each_routes_timings_and_the_loop_lag_of_every_web_process_in_between(tmp_path):
    directory = tmp_path / "metrics"
    _process_observes(directory, [0.001] * 9)
    before = servertimes.read([directory, tmp_path / "missing"])
    _process_observes(directory, [0.15] * 99)
    table = servertimes.between(before, servertimes.read([directory]))
    status = table["/events/{id}/waiting-room/status"]
    assert status["count"] == 100  # 99 answers of 200 and one 304, from the second process only
    assert 100 < status["p50_ms"] <= 200
    assert table[servertimes.LOOP] == {"count": 1, "p50_ms": 350.0, "p99_ms": 497.0,  # in (0.2, 0.5]
                                       "late_share": round(0.3 / (0.3 + LAG_INTERVAL_S), 3)}


def test_a_loop_seen_late_by_few_timers_was_late_most_of_the_time():
    # 10 timers in 2 s: 1.5 s of it late, though 9 of the 10 timers were on time.
    assert servertimes.late_share(1.5, 10, 0.05) == pytest.approx(0.75)
    assert servertimes.late_share(0.0, 20, 0.05) == 0.0
    assert servertimes.late_share(0.0, 0, 0.05) is None


def test_without_a_reading_at_the_end_there_is_nothing_to_show():
    assert servertimes.between(None, None) == {}
