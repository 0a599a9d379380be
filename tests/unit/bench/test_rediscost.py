"""bench.rediscost: which Redis's CPU may be read from /proc, and the per-request figures from two
readings; bench.wrk.run_timed's CPU of one child; the waiting-room summary's per-route lines."""

from __future__ import annotations

import sys
from pathlib import Path

import redis as redis_py

from bench.proccpu import CLOCK_TICKS_PER_S, snapshot
from bench.rediscost import Reading, address, local_pid, per_request
from bench.waiting_room import BASELINE_REDIS, cost_lines
from bench.wrk import run_timed

TICKS = 100
BOOT_S = 1_700_000_000
#: INFO server of a Redis started 1,000 s after boot, asked 500 s later.
INFO = {"process_id": 4321, "server_time_usec": (BOOT_S + 1_500) * 1_000_000, "uptime_in_seconds": 500}


def _fake_proc(root: Path, pid: int, comm: str, utime: int, start_s: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "stat").write_text(f"cpu  1 2 3\nbtime {BOOT_S}\n")
    (root / str(pid) / "task" / str(pid)).mkdir(parents=True)
    fields = ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", str(utime), "0", "0", "0", "20", "0", "4", "0",
              str(start_s * TICKS), "1000", "200"]
    (root / str(pid) / "stat").write_text(f"{pid} ({comm}) " + " ".join(fields) + "\n")
    (root / str(pid) / "comm").write_text(comm + "\n")
    return root


def test_the_local_redis_server_is_found_by_its_pid_name_and_start_time(tmp_path):
    proc = _fake_proc(tmp_path, 4321, "redis-server", 0, 1_000)

    assert local_pid("127.0.0.1", INFO, proc=proc, ticks_per_s=TICKS) == (4321, None)
    assert local_pid("localhost", INFO, proc=proc, ticks_per_s=TICKS) == (4321, None)
    assert local_pid("unix:/tmp/redis.sock", INFO, proc=proc, ticks_per_s=TICKS) == (4321, None)


def test_a_remote_host_is_refused_without_looking_at_proc(tmp_path):
    proc = _fake_proc(tmp_path, 4321, "redis-server", 0, 1_000)

    pid, why = local_pid("10.0.0.7", INFO, proc=proc, ticks_per_s=TICKS)

    assert pid is None
    assert "10.0.0.7 is not this machine" in why


def test_a_cluster_client_is_refused():
    pid, why = local_pid(None, {}, proc=Path("/nonexistent"))

    assert pid is None
    assert "Cluster" in why


def test_a_pid_that_is_not_here_or_not_redis_or_started_at_another_time_is_refused(tmp_path):
    assert local_pid("127.0.0.1", {**INFO, "process_id": 99}, proc=_fake_proc(tmp_path / "a", 4321, "redis-server", 0, 1_000),
                     ticks_per_s=TICKS)[1].startswith("INFO server's process_id 99 is not a process here")
    assert "'python3' here, not redis-server" in local_pid(
        "127.0.0.1", INFO, proc=_fake_proc(tmp_path / "b", 4321, "python3", 0, 1_000), ticks_per_s=TICKS)[1]
    assert "another one" in local_pid(
        "127.0.0.1", INFO, proc=_fake_proc(tmp_path / "c", 4321, "redis-server", 0, 1_200), ticks_per_s=TICKS)[1]


def test_a_wall_clock_that_drifted_from_the_boot_clock_by_seconds_still_finds_the_server(tmp_path):
    # A machine resumed from a snapshot: /proc says the server started 30 s later than INFO does.
    proc = _fake_proc(tmp_path, 4321, "redis-server", 0, 1_030)

    assert local_pid("127.0.0.1", INFO, proc=proc, ticks_per_s=TICKS) == (4321, None)


def test_the_client_address_is_its_host_or_its_unix_socket():
    assert address(redis_py.Redis(host="10.0.0.7", port=6380)) == "10.0.0.7"
    assert address(redis_py.Redis(unix_socket_path="/tmp/r.sock")) == "unix:/tmp/r.sock"
    assert address(object()) is None


def test_commands_per_request_are_the_commandstats_delta_without_the_info_that_read_it(tmp_path):
    before = Reading(None, {"evalsha": 100, "hget": 50, "info": 7})
    after = Reading(None, {"evalsha": 300, "hget": 250, "info": 8, "ping": 1})

    figures = per_request(before, after, 200)

    assert figures == {"redis_cpu_us_per_request": None, "redis_commands_per_request": 2.0,
                       "redis_commands": {"evalsha": 1.0, "hget": 1.0}}  # ping: 0.005 per request, left out


def test_redis_cpu_per_request_comes_from_its_proc_ticks_and_a_lost_process_gives_null(tmp_path):
    before = Reading(snapshot({"redis": [4321]}, with_children=False,
                              proc=_fake_proc(tmp_path / "a", 4321, "redis-server", 100, 1_000)), {})
    after = Reading(snapshot({"redis": [4321]}, with_children=False,
                             proc=_fake_proc(tmp_path / "b", 4321, "redis-server", 150, 1_000)), {})
    gone = Reading(snapshot({"redis": [4321]}, with_children=False, proc=tmp_path / "c"), {})

    # 50 ticks at the machine's clock-tick rate over 1,000 requests
    assert per_request(before, after, 1_000)["redis_cpu_us_per_request"] == round(50 / CLOCK_TICKS_PER_S * 1e6 / 1_000, 1)
    assert per_request(before, gone, 1_000)["redis_cpu_us_per_request"] is None


def test_a_child_run_to_its_end_gives_its_exit_code_output_and_its_own_cpu():
    code, out, err, cpu_s = run_timed([sys.executable, "-c", "import sys; sum(range(10**6)); print('out'); "
                                       "print('err', file=sys.stderr); sys.exit(3)"], 60)

    assert (code, out, err) == (3, "out\n", "err\n")
    assert cpu_s > 0


def test_a_child_past_its_timeout_is_killed():
    code, _, _, _ = run_timed(["sleep", "120"], 0.2)

    assert code == -9


def _fig(web: float, wrk_: float, redis: float | None, commands: float) -> dict:
    return {"server_cpu_us_per_request": web, "wrk_cpu_us_per_request": wrk_, "redis_cpu_us_per_request": redis,
            "redis_commands_per_request": commands}


def test_the_summary_gives_each_route_its_medians_and_the_trivial_handler_no_redis():
    measurements = {"baseline": [{**_fig(web, wrk_, None, 0), **BASELINE_REDIS}
                                 for web, wrk_ in ((100, 10), (110, 11), (105, 30), (104, 9))],
                    "join": [_fig(300, 12, 16, 2), _fig(340, 14, 18, 2), _fig(320, 13, None, 2)]}

    assert cost_lines(measurements) == [
        "baseline: web 104.5 / Redis 0 (by construction) / wrk 10.5 µs per request, 0 Redis commands per request (median of 4)",
        "join: web 320 / Redis 17 / wrk 13 µs per request, 2 Redis commands per request (median of 3)",
    ]
    assert cost_lines({"join": [_fig(300, 12, None, 2)]})[0].startswith("join: web 300 / Redis null / wrk 12")
