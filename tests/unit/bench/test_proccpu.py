from pathlib import Path

import pytest

from bench.proccpu import CpuUsage, cpu_used, descendants, parse_stat_ticks, read_process, snapshot


def _stat(pid: int, comm: str, utime: int, stime: int, start: int) -> str:
    # Fields 3..22 after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
    # cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime, then more.
    fields = ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", str(utime), str(stime), "7", "7", "20", "0", "4",
              "0", str(start), "1000", "200"]
    return f"{pid} ({comm}) " + " ".join(fields) + "\n"


def _fake_proc(root: Path, procs: dict[int, tuple[int, int, int, list[int]]]) -> Path:
    """procs: pid -> (utime, stime, start, children)."""
    for pid, (utime, stime, start, children) in procs.items():
        task = root / str(pid) / "task" / str(pid)
        task.mkdir(parents=True)
        (root / str(pid) / "stat").write_text(_stat(pid, "python -m web", utime, stime, start))
        (task / "children").write_text(" ".join(map(str, children)))
    return root


def test_stat_ticks_are_user_plus_system_time_and_the_start_time():
    assert parse_stat_ticks(_stat(42, "web", 150, 30, 9000)) == (180, 9000)


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields():
    assert parse_stat_ticks(_stat(42, "a) (b c", 5, 6, 77)) == (11, 77)


def test_text_that_is_not_a_stat_line_is_refused():
    with pytest.raises(ValueError):
        parse_stat_ticks("no parenthesis here")
    with pytest.raises(ValueError):
        parse_stat_ticks("1 (x) S 1 2")


def test_a_group_reads_its_processes_children_and_grandchildren(tmp_path):
    proc = _fake_proc(tmp_path, {10: (1, 1, 5, [11]), 11: (2, 2, 6, [12]), 12: (3, 3, 7, []), 99: (50, 50, 8, [])})
    assert descendants(10, proc) == [10, 11, 12]
    snap = snapshot({"worker": [10]}, proc=proc)
    assert snap == {"worker": {(10, 5): 2, (11, 6): 4, (12, 7): 6}}
    assert snapshot({"worker": [10]}, with_children=False, proc=proc) == {"worker": {(10, 5): 2}}


def test_a_process_that_is_gone_reads_as_none(tmp_path):
    assert read_process(12345, tmp_path) is None


def test_cpu_used_is_the_difference_per_process_converted_to_milliseconds():
    before = {"web": {(10, 5): 100}, "redis": {(20, 5): 10}}
    after = {"web": {(10, 5): 350}, "redis": {(20, 5): 15}}
    usage = cpu_used(before, after, ticks_per_s=100)
    assert usage.ms == {"redis": 50.0, "web": 2500.0}
    assert usage.lost == {}


def test_a_process_started_in_the_window_counts_in_full_and_one_that_exited_is_reported_lost():
    before = {"postgres": {(30, 1): 40, (31, 1): 70}}
    after = {"postgres": {(30, 1): 50, (32, 900): 25}}
    usage = cpu_used(before, after, ticks_per_s=100)
    assert usage.ms == {"postgres": 350.0}  # (50 - 40) + 25 ticks
    assert usage.lost == {"postgres": 1}


def test_a_reused_pid_is_another_process_and_counts_from_zero():
    before = {"worker": {(10, 5): 500}}
    after = {"worker": {(10, 800): 20}}
    usage = cpu_used(before, after, ticks_per_s=100)
    assert usage.ms == {"worker": 200.0}
    assert usage.lost == {"worker": 1}


def test_per_unit_divides_every_group_and_the_total_by_the_units():
    usage = CpuUsage(ms={"web": 300.0, "worker": 100.0})
    assert usage.per_unit(100) == {"web": 3.0, "worker": 1.0, "total": 4.0}
    assert usage.per_unit(0) == {"web": 0.0, "worker": 0.0, "total": 0.0}
