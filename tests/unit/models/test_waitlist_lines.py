"""The fans ahead of a waitlist entry, counted in each tier's waiting line: read at most once per
max age per tier and process, answered from the previous copy while one thread reads it again."""

from __future__ import annotations

import threading
import uuid
from array import array

import peewee
import pytest

from models.tables import WaitlistEntry
from models.waitlist import lines as lines_module
from models.waitlist.lines import Line, WaitingLines
from tests.unit.models.checkout_factories import make_tier
from tests.unit.models.test_waitlist_entries import _entry
from tests.unit.models.waitlist_factories import statements_sent


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_counts_the_ranks_before_a_fan_and_breaks_ties_by_id():
    a, b, c = sorted(uuid.uuid4() for _ in range(3))
    line = Line(0.0, array("q", [1, 2, 2, 2, 5]), {2: [a, b, c]})
    assert line.ahead(1, uuid.uuid4()) == 0
    assert [line.ahead(2, u) for u in (a, b, c)] == [1, 2, 3]
    assert line.ahead(3, a) == 4 and line.ahead(9, a) == 5


def test_a_tiers_line_is_read_once_within_its_max_age_and_again_after_it(db, monkeypatch):
    tier, clock = make_tier(), Clock()
    lines = WaitingLines(max_age_s=1.0, clock=clock)
    first = _entry(tier, "fan-1", rank=10)
    sent = statements_sent(monkeypatch)
    assert lines.ahead(tier.id, first.rank, first.id) == 0 and sent == ["SELECT"]

    _entry(tier, "fan-0", rank=5)
    clock.now += 0.9
    assert lines.ahead(tier.id, first.rank, first.id) == 0, "the copy read 0.9 s ago"
    assert sent == ["SELECT", "INSERT"]

    clock.now += 0.1
    assert lines.ahead(tier.id, first.rank, first.id) == 1
    assert sent == ["SELECT", "INSERT", "SELECT"]


def test_only_waiting_fans_of_the_same_tier_are_in_the_line(db):
    tier, other = make_tier(), make_tier()
    for i, status in enumerate(["waiting", "offered", "left", "lapsed", "waiting"]):
        _entry(tier, f"fan-{i}", rank=i + 1, status=status)
    _entry(other, "elsewhere", rank=1)
    assert WaitingLines().ahead(tier.id, 99, uuid.uuid4()) == 2


def test_while_one_thread_reads_a_stale_line_the_others_answer_from_the_previous_copy(db, monkeypatch):
    tier, clock = make_tier(), Clock()
    lines = WaitingLines(max_age_s=1.0, clock=clock)
    fan = _entry(tier, "fan-1", rank=10)
    assert lines.ahead(tier.id, fan.rank, fan.id) == 0
    _entry(tier, "fan-0", rank=5)
    clock.now += 5

    reading, release = threading.Event(), threading.Event()
    read_line = lines_module.read_line

    def slow_read(*args):
        reading.set()
        release.wait(5)
        return read_line(*args)

    monkeypatch.setattr(lines_module, "read_line", slow_read)
    reader = threading.Thread(target=lines.ahead, args=(tier.id, fan.rank, fan.id))
    reader.start()
    assert reading.wait(5)
    assert lines.ahead(tier.id, fan.rank, fan.id) == 0, "the previous copy, not a wait for the read"
    release.set()
    reader.join(5)
    assert lines.ahead(tier.id, fan.rank, fan.id) == 1


def test_a_process_keeps_the_lines_of_at_most_max_tiers_tiers(db, monkeypatch):
    lines = WaitingLines(max_tiers=2)
    tiers = [make_tier() for _ in range(3)]
    for tier in tiers:
        lines.ahead(tier.id, 1, uuid.uuid4())
    sent = statements_sent(monkeypatch)
    lines.ahead(tiers[2].id, 1, uuid.uuid4())
    assert sent == []
    lines.ahead(tiers[0].id, 1, uuid.uuid4())
    assert sent == ["SELECT"], "the oldest tier's line was let go"


def test_a_line_of_ten_thousand_fans_answers_each_fan_its_place(db):
    tier = make_tier()
    WaitlistEntry.insert_many([dict(id=uuid.uuid4(), event=tier.event_id, tier=tier.id, user_id=f"fan-{i}", quantity=1,
                                    position=i + 1, rank=i + 1, status="waiting") for i in range(10_000)]).execute()
    lines = WaitingLines()
    assert [lines.ahead(tier.id, rank, uuid.uuid4()) for rank in (1, 2, 5_000, 10_000, 10_001)] == [0, 1, 4_999, 9_999, 10_000]


def test_a_read_that_fails_fails_its_own_caller_only_and_the_next_caller_reads_again(db, monkeypatch):
    tier, clock = make_tier(), Clock()
    lines = WaitingLines(max_age_s=1.0, clock=clock)
    fan = _entry(tier, "fan-1", rank=10)
    read_line, failing = lines_module.read_line, [True]

    def read_or_fail(*args):
        if failing.pop() if failing else False:
            raise peewee.OperationalError("the server went away")
        return read_line(*args)

    monkeypatch.setattr(lines_module, "read_line", read_or_fail)
    with pytest.raises(peewee.OperationalError):
        lines.ahead(tier.id, fan.rank, fan.id)  # the first read: nothing to answer from
    assert not lines._reading.locked(), "no reader left marked as reading"
    assert lines.ahead(tier.id, fan.rank, fan.id) == 0

    _entry(tier, "fan-0", rank=5)
    clock.now += 5
    failing.append(True)
    with pytest.raises(peewee.OperationalError):
        lines.ahead(tier.id, fan.rank, fan.id)  # the re-read's own caller sees its failure
    assert not lines._reading.locked(), "no reader left marked as reading"
    assert lines.ahead(tier.id, fan.rank, fan.id) == 1, "the next caller read the line again"
