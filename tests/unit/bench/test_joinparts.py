import asyncio

import pytest

from bench import joinparts


@pytest.mark.parametrize("name", joinparts.PARTS)
def test_each_part_of_a_join_runs_in_a_loop_without_redis(name):
    asyncio.run(joinparts.loop(name, 3))


def test_the_whole_part_answers_a_new_join_with_its_rate_limit_and_private_headers():
    head = asyncio.run(joinparts.part("all")()).decode()
    assert head.startswith("HTTP/1.1 201 Created\r\n")
    for field in ('RateLimit-Policy: "join";q=30;w=60, "ip";q=600;w=60', 'RateLimit: "join";r=29;t=2, "ip";r=599;t=1',
                  "Cache-Control: no-store", "Vary: X-User-Id, Authorization", "X-Content-Type-Options: nosniff"):
        assert f"\r\n{field}\r\n" in head


def test_each_join_is_a_new_user_with_a_token_of_its_own():
    one = joinparts.part("join")
    first, second = asyncio.run(one()), asyncio.run(one())
    assert first.created and first.token != second.token


def test_an_unknown_part_is_refused_by_name():
    with pytest.raises(ValueError, match="no part 'route'"):
        joinparts.part("route")


def test_the_instruction_total_is_read_from_the_callgrind_summary_line():
    assert joinparts.instructions("version: 1\ncreator: callgrind-3.19.0\nsummary: 2194731300\n") == 2194731300
    assert joinparts.instructions("events: Ir\ntotals: 125\n") == 125
    with pytest.raises(ValueError, match="no summary line"):
        joinparts.instructions("events: Ir\n")
