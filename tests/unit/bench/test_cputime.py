"""A drop's CPU by kind of process at its phase boundaries: PostgreSQL's backends of the drop's
database counted when they can be seen from here, said why not when they cannot."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from bench.drop.cputime import CpuMeter, by_phase, summary
from bench.drop.infra import Database
from tests.unit.bench.fake_proc import fake_proc

ME = os.getpid()
TICKS = os.sysconf("SC_CLK_TCK")


def _clock() -> float:
    return 0.0
DB = "ticketdrop_drop_1"
BACKEND = f"postgres: 15/main: postgres {DB} 127.0.0.1(51022) idle"


class FakeConnection:
    """psycopg2's connection as the meter uses it: its own backend is ``own``, the database's others ``backends``."""

    def __init__(self, own: int, backends: list[int]) -> None:
        self.own, self.backends, self.closed, self.autocommit = own, backends, False, False

    def cursor(self) -> FakeConnection:
        return self

    def __enter__(self) -> FakeConnection:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def execute(self, sql: str, params: tuple = ()) -> None:
        self.sql = sql

    def fetchone(self) -> tuple[str, int]:
        return DB, self.own

    def fetchall(self) -> list[tuple[int]]:
        return [(pid,) for pid in self.backends]

    def close(self) -> None:
        self.closed = True


def _system(url: str = f"postgres://postgres@127.0.0.1:5432/{DB}", daemons: tuple[str, ...] = ()) -> SimpleNamespace:
    def service(name: str, pid: int) -> SimpleNamespace:
        return SimpleNamespace(name=name, proc=SimpleNamespace(pid=pid))

    return SimpleNamespace(database=Database(url), services=[service("web-0", 10), service("worker-0", 20), service("scheduler", 30)],
                           daemons=[service(name, 90 + i) for i, name in enumerate(daemons)],
                           redis=SimpleNamespace(proc=SimpleNamespace(pid=50)))


@pytest.fixture
def proc(tmp_path):
    """Web 10, worker 20 with its child 21, scheduler 30, redis 50, the simulator (this process) with
    a child 60 that is a web process, and backends 40 and 41 of the drop's database, 99 of another."""
    return fake_proc(tmp_path, {10: (100, 10, 5, []), 20: (30, 0, 5, [21]), 21: (50, 5, 6, []), 30: (7, 0, 5, []),
                                50: (9, 1, 5, []), ME: (80, 20, 5, [60]), 60: (1000, 0, 5, []), 40: (200, 50, 7, []),
                                41: (10, 0, 8, []), 99: (3, 0, 9, [])},
                     titles={40: BACKEND, 41: BACKEND, 99: "postgres: 15/main: postgres postgres 127.0.0.1(4) idle"})


def test_the_meter_reads_each_kind_with_its_children_but_the_simulator_and_the_backends_alone(proc):
    meter = CpuMeter(_system(), _clock, proc)
    meter.open(lambda url: FakeConnection(41, [40, 41]))
    snap = meter.read()
    assert snap == {"web": {(10, 5): 110}, "worker": {(20, 5): 30, (21, 6): 55}, "scheduler": {(30, 5): 7},
                    "redis": {(50, 5): 10}, "simulator": {(ME, 5): 100}, "postgres": {(40, 7): 250, (41, 8): 10}}
    assert meter.postgres == f"the backends of the drop's database {DB}; not the server's background processes"


def test_backends_read_before_are_read_again_after_they_left_pg_stat_activity(proc):
    meter = CpuMeter(_system(), _clock, proc)
    conn = FakeConnection(41, [40, 41])
    meter.open(lambda url: conn)
    meter.read()
    conn.backends = [41]
    assert set(meter.read()["postgres"]) == {(40, 7), (41, 8)}


def test_a_postgresql_whose_backends_are_not_visible_here_is_not_counted_and_the_report_says_why(proc):
    conn = FakeConnection(99, [40, 41])  # its own backend's pid is a backend of another database here
    meter = CpuMeter(_system(), _clock, proc)
    meter.open(lambda url: conn)
    assert conn.closed
    assert "postgres" not in meter.read()
    assert meter.postgres.startswith("not counted: PostgreSQL's processes are not visible from here")


def test_a_postgresql_that_cannot_be_asked_is_not_counted(proc):
    def refuse(url: str):
        raise ConnectionRefusedError(url)

    meter = CpuMeter(_system(), _clock, proc)
    meter.open(refuse)
    assert "postgres" not in meter.read()
    assert meter.postgres == "not counted: could not ask PostgreSQL for its backends (ConnectionRefusedError)"


def test_a_drop_on_sqlite_counts_no_postgresql(proc):
    meter = CpuMeter(_system(url="sqlite:///drop.db"), _clock, proc)
    meter.open(lambda url: pytest.fail("no connection to SQLite"))
    assert "postgres" not in meter.read()
    assert meter.postgres == "not counted: the database is SQLite, inside the web and worker processes"


def test_a_drop_across_hosts_counts_the_data_hosts_own_postgresql_whole(proc):
    meter = CpuMeter(_system(daemons=("postgres",)), _clock, proc)
    meter.open(lambda url: pytest.fail("the whole server is read, no backends listed"))
    fake_proc(proc, {90: (70, 0, 5, [40])})
    assert meter.read()["postgres"] == {(90, 5): 70, (40, 7): 250}
    assert meter.postgres == "the data host's own PostgreSQL server, all its processes"


def _snapshot(t: float, web: int, postgres: dict) -> tuple[float, dict]:
    """A reading at ``t`` s; the simulator uses a tenth of a core."""
    return t, {"web": {(10, 5): web}, "postgres": postgres, "simulator": {(ME, 5): int(t * TICKS / 10)}}


def test_each_phase_is_the_difference_between_the_readings_at_its_boundaries():
    marks = {"start": 0.0, "on_sale": 10.0, "sold_out": 25.0, "crowd_done": 40.0, "end": 50.0}
    readings = [_snapshot(0.0, 100, {(40, 7): 0}), _snapshot(10.0, 300, {(40, 7): 100}), _snapshot(25.0, 900, {(40, 7): 400}),
                _snapshot(40.0, 1000, {(40, 7): 500}), _snapshot(50.0, 1010, {(40, 7): 510})]
    phases = by_phase(marks, readings)
    assert list(phases) == ["pre-sale", "on-sale to sold out", "after sold out", "drain"]
    start, end, usage = phases["on-sale to sold out"]
    assert (start, end) == (10.0, 25.0)
    assert usage.ms["web"] == pytest.approx(600 * 1000 / TICKS)


def test_a_backend_that_exits_mid_phase_keeps_its_cpu_up_to_the_last_reading_that_saw_it():
    marks = {"start": 0.0, "on_sale": 10.0}
    readings = [_snapshot(10.0, 0, {}), _snapshot(0.0, 0, {(40, 7): 0}), _snapshot(6.0, 0, {(40, 7): 3 * TICKS})]
    usage = by_phase(marks, readings)["pre-sale"][2]
    assert usage.ms["postgres"] == pytest.approx(3000.0)
    assert usage.lost == {"postgres": 1}


def test_without_a_sold_out_reading_the_on_sale_runs_to_the_crowds_end():
    marks = {"start": 0.0, "on_sale": 10.0, "crowd_done": 40.0, "end": 50.0}
    readings = [_snapshot(t, 0, {}) for t in marks.values()]
    assert {name: (a, b) for name, (a, b, _) in by_phase(marks, readings).items()} == {
        "pre-sale": (0.0, 10.0), "on-sale to sold out": (10.0, 40.0), "drain": (40.0, 50.0)}


def test_the_total_sums_the_phases_so_a_backend_seen_at_one_reading_counts_and_one_gone_is_lost():
    marks = {"start": 0.0, "on_sale": 10.0, "end": 30.0}
    readings = [_snapshot(0.0, 0, {}), _snapshot(10.0, TICKS, {(41, 8): TICKS}), _snapshot(30.0, 3 * TICKS, {})]
    figures = summary(marks, readings, lambda a, b: int(b - a) * 100)
    assert figures["total"] == {"simulator": 3.0, "web": 3.0, "postgres": 1.0}
    assert list(figures["total"]) == ["simulator", "web", "postgres"]
    assert figures["lost"] == {"postgres": 1}
    assert figures["by_phase"]["pre-sale"] == {"seconds": 10.0, "cpu_s": {"simulator": 1.0, "web": 1.0, "postgres": 1.0},
                                               "requests": 1000}
    assert figures["by_phase"]["on-sale to sold out"]["requests"] == 2000


def test_the_meter_keeps_every_reading_and_the_times_of_the_moments(proc):
    times = iter([3.0, 5.0])
    meter = CpuMeter(_system(url="sqlite:///drop.db"), lambda: next(times), proc)
    meter.read()
    meter.read("on_sale")
    assert [t for t, _ in meter.readings] == [3.0, 5.0]
    assert meter.marks == {"on_sale": 5.0}
