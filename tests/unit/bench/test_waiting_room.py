"""bench.waiting_room's rounds: no fan's first poll is measured twice, every route is measured
between two yardsticks and compared with their geometric mean, and the summary is each ratio's
median over the rounds with its spread, beside the yardstick's own."""

from __future__ import annotations

import pytest

from bench.waiting_room import (
    REPEAT_FANS,
    bracketed_ratios,
    chosen_routes,
    http_paths,
    measure_round,
    summary,
    yardstick_spread,
)


def test_every_round_polls_fans_no_other_round_and_no_repeat_fan_has_polled():
    first_rounds, repeat = http_paths("ev-1", REPEAT_FANS + 3_000, b"s" * 32, 5.0, 3)

    assert len(first_rounds) == 3
    assert len(repeat) == REPEAT_FANS
    seen = [url for urls in first_rounds for url in urls]
    assert len(seen) == len(set(seen)) == 3_000
    assert not set(seen) & set(repeat)
    assert all(url.startswith("/events/ev-1/waiting-room/status?token=") for url in seen)


def measured(rps: float, cpu_us: float = 30.0) -> dict:
    """A wrk measurement's figures, as far as the ratios read them."""
    return {"rps": rps, "server_cpu_us_per_request": cpu_us}


def counting(order: list[str]):
    """A measurement of ``name`` that logs its turn in ``order`` and gives it as its req/s."""
    def run(name: str):
        def measure() -> dict:
            order.append(name)
            return measured(len(order))
        return measure
    return run


def test_a_round_measures_the_yardstick_before_and_after_every_route():
    order = []
    run = counting(order)

    yardsticks, figures = measure_round(run("yardstick"), {"first": run("first"), "repeat": run("repeat"),
                                                           "join": run("join")})

    assert order == ["yardstick", "first", "yardstick", "repeat", "yardstick", "join", "yardstick"]
    assert [y["rps"] for y in yardsticks] == [1, 3, 5, 7]
    assert {name: m["rps"] for name, m in figures.items()} == {"first": 2, "repeat": 4, "join": 6}


def test_the_next_round_opens_with_the_yardstick_that_closed_the_last_one_not_a_new_one():
    order = []
    run = counting(order)

    yardsticks, figures = measure_round(run("yardstick"), {"first": run("first"), "join": run("join")},
                                        before=measured(99))

    assert order == ["first", "yardstick", "join", "yardstick"]
    assert [y["rps"] for y in yardsticks] == [99, 2, 4]


def test_routes_chosen_by_name_keep_the_order_a_round_measures_them_in():
    runs = {"status_first_poll": 1, "status_repeat_poll": 2, "join": 3, "progress_poll": 4}

    assert list(chosen_routes(runs, ["join"])) == ["join"]
    assert list(chosen_routes(runs, ["progress", "join", "first"])) == ["status_first_poll", "join", "progress_poll"]
    assert chosen_routes(runs, ["first", "repeat", "join", "progress"]) == runs


def test_a_route_is_compared_with_the_geometric_mean_of_the_yardsticks_either_side_of_it():
    # 40,000 and 10,000 req/s around it: 20,000 (their arithmetic mean, 25,000, would give 0.4);
    # 20 and 80 µs of CPU per request: 40.
    ratios = bracketed_ratios([measured(40_000, 20.0), measured(10_000, 80.0)], {"join": measured(10_000, 80.0)})

    assert ratios == {"join_rps_ratio": 0.5, "join_cpu_ratio": 0.5}


def test_each_route_is_compared_with_its_own_two_neighbours_not_with_the_rounds_first_yardstick():
    yardsticks = [measured(20_000), measured(20_000), measured(10_000), measured(10_000)]
    routes = {"status_first_poll": measured(12_000), "status_repeat_poll": measured(7_071), "join": measured(5_000)}

    ratios = bracketed_ratios(yardsticks, routes)

    assert ratios["status_first_poll_rps_ratio"] == 0.6   # 20,000 on both sides
    assert ratios["status_repeat_poll_rps_ratio"] == 0.5  # 20,000 before, 10,000 after: 14,142
    assert ratios["join_rps_ratio"] == 0.5                # 10,000 on both sides (0.25 against the first)


def test_a_machine_slowing_steadily_through_the_round_leaves_every_ratio_as_it_truly_is():
    # Seven measurements in a row on a machine that halves its speed over them; the routes truly
    # run at 0.6, 0.7 and 0.45 of the yardstick, and cost 1/0.6, 1/0.7 and 1/0.45 of its CPU.
    def speed(step: int) -> float:
        return 0.5 ** (step / 6)

    truth = {"status_first_poll": 0.6, "status_repeat_poll": 0.7, "join": 0.45}
    yardsticks = [measured(20_000 * speed(step), 30 / speed(step)) for step in (0, 2, 4, 6)]
    routes = {name: measured(ratio * 20_000 * speed(step), 30 / (ratio * speed(step)))
              for (name, ratio), step in zip(truth.items(), (1, 3, 5), strict=True)}

    ratios = bracketed_ratios(yardsticks, routes)

    for name, ratio in truth.items():
        assert ratios[f"{name}_rps_ratio"] == ratio
        assert ratios[f"{name}_cpu_ratio"] == ratio
    assert round(routes["join"]["rps"] / yardsticks[0]["rps"], 2) == 0.25  # what one yardstick first gave


def test_a_round_whose_yardsticks_do_not_surround_every_route_is_refused():
    with pytest.raises(ValueError, match="2 routes need 3 yardsticks"):
        bracketed_ratios([measured(20_000), measured(20_000)], {"join": measured(9_000), "first": measured(9_000)})


def test_the_summary_is_the_median_of_the_rounds_with_the_lowest_and_highest():
    rounds = [{"join_rps_ratio": 0.30}, {"join_rps_ratio": 0.50}, {"join_rps_ratio": 0.35}]

    assert summary(rounds) == {"join_rps_ratio": {"median": 0.35, "min": 0.30, "max": 0.50}}


def test_with_an_even_number_of_rounds_the_median_is_the_mean_of_the_middle_two():
    rounds = [{"join_rps_ratio": r} for r in (0.30, 0.50, 0.36, 0.40)]

    assert summary(rounds)["join_rps_ratio"] == {"median": 0.38, "min": 0.30, "max": 0.50}


def test_the_yardsticks_spread_is_its_lowest_median_and_highest_and_its_widest_bracket():
    # The run's yardsticks in order, a route between each two.
    yardsticks = [measured(20_000, 25.0), measured(10_000, 50.0), measured(15_000, 33.0), measured(12_000, 40.0),
                  measured(18_000, 28.0), measured(18_000, 27.0), measured(8_000, 60.0)]

    assert yardstick_spread(yardsticks) == {
        "measurements": 7,
        "rps": {"min": 8_000, "median": 15_000, "max": 20_000},
        "server_cpu_us_per_request": {"min": 25.0, "median": 33.0, "max": 60.0},
        "widest_bracket": 2.25,  # 18,000 before the last route, 8,000 after it
    }
