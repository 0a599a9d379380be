
import pytest

from bench.proccpu import CpuUsage, backend_pids, cpu_used, descendants, is_backend_of, parse_stat_ticks, read_process, snapshot
from tests.unit.bench.fake_proc import fake_proc, stat_line


def test_stat_ticks_are_user_plus_system_time_and_the_start_time():
    assert parse_stat_ticks(stat_line(42, "web", 150, 30, 9000)) == (180, 9000)


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields():
    assert parse_stat_ticks(stat_line(42, "a) (b c", 5, 6, 77)) == (11, 77)


def test_text_that_is_not_a_stat_line_is_refused():
    with pytest.raises(ValueError):
        parse_stat_ticks("no parenthesis here")
    with pytest.raises(ValueError):
        parse_stat_ticks("1 (x) S 1 2")


def test_a_group_reads_its_processes_children_and_grandchildren(tmp_path):
    proc = fake_proc(tmp_path, {10: (1, 1, 5, [11]), 11: (2, 2, 6, [12]), 12: (3, 3, 7, []), 99: (50, 50, 8, [])})
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


def test_two_windows_usage_adds_up_per_group_with_their_lost_processes():
    first = CpuUsage(ms={"web": 300.0, "postgres": 50.0}, lost={"postgres": 1})
    second = CpuUsage(ms={"web": 200.0, "redis": 10.0}, lost={"postgres": 2, "web": 1})
    both = first + second
    assert both.ms == {"web": 500.0, "postgres": 50.0, "redis": 10.0}
    assert both.lost == {"postgres": 3, "web": 1}


class _Cursor:
    """A DB-API cursor whose pg_stat_activity holds ``rows``."""

    def __init__(self, rows: list[tuple[int]]) -> None:
        self.rows, self.executed = rows, []

    def execute(self, sql: str, params: tuple) -> None:
        self.executed.append((sql, params))

    def fetchall(self) -> list[tuple[int]]:
        return self.rows


def test_backends_are_those_of_the_database_but_the_asking_one():
    cursor = _Cursor([(40,), (41,)])
    assert backend_pids(cursor, "ticketdrop_drop_1") == [40, 41]
    sql, params = cursor.executed[0]
    assert "datname = %s" in sql and "pg_backend_pid()" in sql and params == ("ticketdrop_drop_1",)


def test_backends_read_before_are_read_again_so_one_that_closed_is_reported_lost():
    previous = {"postgres": {(39, 5): 100, (40, 5): 200}, "web": {(10, 5): 1}}
    assert backend_pids(_Cursor([(40,), (42,)]), "db", previous) == [39, 40, 42]


def test_a_process_is_a_backend_of_the_database_its_title_names(tmp_path):
    proc = fake_proc(tmp_path, {40: (1, 1, 5, []), 41: (1, 1, 5, []), 42: (1, 1, 5, [])},
                     titles={40: "postgres: 15/main: postgres ticketdrop_drop_1 127.0.0.1(51022) idle",
                             41: "postgres: postgres ticketdrop_drop_2 127.0.0.1(51023) idle in transaction",
                             42: "python -m web ticketdrop_drop_1"})
    assert is_backend_of(40, "ticketdrop_drop_1", proc)
    assert not is_backend_of(41, "ticketdrop_drop_1", proc)
    assert not is_backend_of(42, "ticketdrop_drop_1", proc)


def test_a_pid_that_is_not_here_is_no_backend(tmp_path):
    assert not is_backend_of(12345, "ticketdrop_drop_1", tmp_path)
