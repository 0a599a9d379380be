"""bench.waiting_room's rounds: no fan's first poll is measured twice, and the summary is each
ratio's median over the rounds with its spread."""

from __future__ import annotations

from bench.waiting_room import REPEAT_FANS, http_paths, summary


def test_every_round_polls_fans_no_other_round_and_no_repeat_fan_has_polled():
    first_rounds, repeat = http_paths("ev-1", REPEAT_FANS + 3_000, b"s" * 32, 5.0, 3)

    assert len(first_rounds) == 3
    assert len(repeat) == REPEAT_FANS
    seen = [url for urls in first_rounds for url in urls]
    assert len(seen) == len(set(seen)) == 3_000
    assert not set(seen) & set(repeat)
    assert all(url.startswith("/events/ev-1/waiting-room/status?token=") for url in seen)


def test_the_summary_is_the_median_of_the_rounds_with_the_lowest_and_highest():
    rounds = [{"join_rps_ratio": 0.30}, {"join_rps_ratio": 0.50}, {"join_rps_ratio": 0.35}]

    assert summary(rounds) == {"join_rps_ratio": {"median": 0.35, "min": 0.30, "max": 0.50}}
