"""Status documents and ETAs: pure functions of the event, the room view and the clock."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.settings import ROOT
from models.timestamps import iso
from models.waiting_room.eta import Pace, eta_seconds, measure_pace, next_wave_ms
from models.waiting_room.room import RoomView
from models.waiting_room.status import (
    admission_of,
    answer,
    describe,
    max_age_s,
    progress,
    progress_answer,
    progress_validator,
    validator,
)
from models.waiting_room.store import RoomCounters, Stock, Wave

ON_SALE = datetime(2031, 3, 1, 18, 0, tzinfo=UTC)
T0 = int(ON_SALE.timestamp() * 1000)
TTL_S = 600


@dataclass(frozen=True)
class FakeEvent:
    status: str = "on_sale"
    on_sale_at: datetime = ON_SALE
    paused: bool = False
    wave_size: int = 100
    wave_interval_s: float = 5.0


def regular_waves(n: int, size: int = 100, interval_ms: int = 5000, start_ms: int = T0) -> list[Wave]:
    return [Wave(i * size + 1, (i + 1) * size, start_ms + i * interval_ms, size) for i in range(n)]


def view_of(waves: list[Wave], total: int, stock: Stock = Stock(), **counters) -> RoomView:
    up_to = waves[-1].last if waves else 0
    return RoomView().with_waves(RoomCounters(pre=total, up_to=up_to, opened=True, prequeue_closed=True, **counters),
                                 stock, waves)


# -- pace -----------------------------------------------------------------------------------

def test_before_two_waves_the_pace_is_the_configured_wave_size_and_interval():
    assert measure_pace([], 100, 5.0) == Pace(100.0, 5.0, False)
    assert measure_pace(regular_waves(1), 100, 5.0) == Pace(100.0, 5.0, False)


def test_the_pace_is_measured_from_the_waves_capacity_and_spacing():
    waves = regular_waves(6, size=40, interval_ms=4000)
    pace = measure_pace(waves, 100, 5.0)
    assert pace.measured
    assert (pace.per_wave, pace.interval_s) == (40.0, 4.0)
    assert pace.rate_per_s == pytest.approx(10.0)


def test_a_pause_between_waves_does_not_count_as_slow_admission():
    waves = regular_waves(5) + [Wave(501, 600, T0 + 4 * 5000 + 600_000, 100)]
    assert measure_pace(waves, 100, 5.0).interval_s <= 5.0 * 1.25


# -- eta ------------------------------------------------------------------------------------

def test_eta_counts_the_wait_for_the_next_wave_plus_one_interval_per_further_wave():
    pace = Pace(100.0, 5.0, True)
    assert eta_seconds(150, 100, pace, T0, T0 + 3000) == 3
    assert eta_seconds(450, 100, pace, T0, T0 + 3000) == 3 + 3 * 5
    assert eta_seconds(50, 100, pace, T0, T0 + 3000) == 0


@given(position=st.integers(min_value=1, max_value=5000), steps=st.lists(st.integers(1, 4000), min_size=1, max_size=60))
def test_with_waves_on_schedule_a_fans_eta_never_goes_up(position, steps):
    interval_ms, size = 5000, 100
    now, previous = T0 - 1, None
    for step in steps:
        now += step
        n_waves = max(0, (now - T0) // interval_ms + 1)
        waves = regular_waves(n_waves, size, interval_ms)
        view = view_of(waves, total=10_000)
        if position <= view.counters.up_to:
            break
        pace = measure_pace(view.waves, size, interval_ms / 1000)
        eta = eta_seconds(position, view.counters.up_to, pace, now, next_wave_ms(view.last_wave, pace, T0))
        if previous is not None:
            assert eta <= previous
        previous = eta


def test_a_late_wave_freezes_the_eta_instead_of_raising_it():
    waves = regular_waves(4)
    view = view_of(waves, total=1000)
    pace = measure_pace(view.waves, 100, 5.0)
    due = next_wave_ms(view.last_wave, pace, T0)
    on_time = eta_seconds(900, view.counters.up_to, pace, due, due)
    late = eta_seconds(900, view.counters.up_to, pace, due + 3000, due)
    assert late == on_time


# -- status documents -----------------------------------------------------------------------

def test_before_on_sale_a_pre_queue_fan_waits_without_a_position_or_eta():
    doc = describe(FakeEvent(status="scheduled"), view_of([], total=5), 0, T0 - 90_500, TTL_S)
    assert doc["state"] == "waiting"
    assert doc["secondsUntilOnSale"] == 91
    assert (doc["position"], doc["aheadOfYou"], doc["etaSeconds"], doc["canEnter"], doc["admission"]) == (
        None, None, None, False, "queued")
    assert doc["onSaleAt"] == iso(ON_SALE) and doc["total"] == 5  # the API's text, written once per view


def test_an_admitted_fan_may_enter_until_the_window_lapses_then_shows_expired():
    view = view_of(regular_waves(2), total=500)
    admitted = describe(FakeEvent(), view, 150, T0 + 6000, TTL_S)
    assert (admitted["state"], admitted["admission"], admitted["canEnter"], admitted["etaSeconds"]) == (
        "sale_open", "admitted", True, 0)
    assert admitted["admissionExpiresAt"] == iso(datetime.fromtimestamp((T0 + 5000) / 1000 + TTL_S, tz=UTC))
    expired = describe(FakeEvent(), view, 150, T0 + 5000 + TTL_S * 1000, TTL_S)
    assert (expired["admission"], expired["canEnter"], expired["etaSeconds"]) == ("expired", False, None)


def test_a_queued_fan_sees_how_many_are_ahead_and_an_eta():
    doc = describe(FakeEvent(), view_of(regular_waves(2), total=500), 450, T0 + 6000, TTL_S)
    assert (doc["admission"], doc["aheadOfYou"], doc["canEnter"]) == ("queued", 249, False)
    assert doc["etaSeconds"] == 4 + 2 * 5


def test_a_paused_sale_says_paused_and_lets_nobody_enter():
    doc = describe(FakeEvent(paused=True), view_of(regular_waves(2), total=500), 150, T0 + 6000, TTL_S)
    assert (doc["state"], doc["canEnter"]) == ("paused", False)
    queued = describe(FakeEvent(paused=True), view_of(regular_waves(2), total=500), 450, T0 + 6000, TTL_S)
    assert queued["etaSeconds"] is None


@pytest.mark.parametrize("stock, state", [
    (Stock(known=True, available=0, held=0), "sold_out"),
    (Stock(known=True, available=0, held=2), "sale_open"),  # holds may still come back
    (Stock(), "sale_open"),
])
def test_everyone_sees_sold_out_once_no_stock_and_no_holds_remain(stock, state):
    doc = describe(FakeEvent(), view_of(regular_waves(1), total=500, stock=stock), 450, T0 + 1000, TTL_S)
    assert doc["state"] == state
    assert doc["canEnter"] is False


@pytest.mark.parametrize("status", ["closed", "canceled"])
def test_a_closed_or_canceled_event_says_closed(status):
    doc = describe(FakeEvent(status=status), view_of(regular_waves(1), total=500), 50, T0 + 1000, TTL_S)
    assert (doc["state"], doc["canEnter"]) == ("closed", False)


def test_a_fan_who_just_joined_never_sees_a_total_smaller_than_their_position():
    # The room view is cached for a moment, so it may not count the newest joiner yet.
    doc = describe(FakeEvent(), view_of([], total=3), 7, T0 + 1000, TTL_S)
    assert doc["position"] == 7 and doc["total"] == 7


#: The two countdowns a client counts down itself between answers: not part of the ETag.
COUNTDOWNS = ("secondsUntilOnSale", "etaSeconds")


def _without_countdowns(document: dict) -> dict:
    return {k: v for k, v in document.items() if k not in COUNTDOWNS}


@given(positions=st.tuples(st.integers(min_value=0, max_value=700), st.integers(min_value=0, max_value=700)),
       offsets_ms=st.tuples(st.integers(min_value=-120_000, max_value=700_000),
                            st.integers(min_value=-120_000, max_value=700_000)),
       n_waves=st.integers(min_value=0, max_value=6), paused=st.booleans())
def test_two_answers_share_an_etag_exactly_when_they_say_the_same_but_for_the_countdowns(positions, offsets_ms,
                                                                                          n_waves, paused):
    event, view = FakeEvent(paused=paused), view_of(regular_waves(n_waves), total=600)
    (doc_a, etag_a, _), (doc_b, etag_b, _) = (answer(event, view, p, T0 + o, TTL_S) for p, o in zip(positions, offsets_ms, strict=True))
    assert (etag_a == etag_b) == (_without_countdowns(doc_a) == _without_countdowns(doc_b))


@given(position=st.integers(min_value=0, max_value=700), offset_ms=st.integers(min_value=-120_000, max_value=700_000),
       n_waves=st.integers(min_value=0, max_value=6), paused=st.booleans())
def test_an_answer_carries_the_etag_the_validator_gives_its_document(position, offset_ms, n_waves, paused):
    # answer() builds the ETag from its own fields, without reading the document back.
    view = view_of(regular_waves(n_waves), total=600)
    document, etag, _ = answer(FakeEvent(paused=paused), view, position, T0 + offset_ms, TTL_S)
    assert etag == validator(document, view.epoch)


@given(position=st.integers(min_value=0, max_value=700), offset_ms=st.integers(min_value=-120_000, max_value=700_000),
       n_waves=st.integers(min_value=0, max_value=6))
def test_an_answer_is_fresh_for_at_most_one_wave_interval_and_never_past_its_admission_expiry(position, offset_ms,
                                                                                              n_waves):
    event, view, now = FakeEvent(), view_of(regular_waves(n_waves), total=600), T0 + offset_ms
    _, _, max_age = answer(event, view, position, now, TTL_S)
    expires = admission_of(position, view, now, TTL_S)[1]
    assert 0 <= max_age <= int(event.wave_interval_s)
    if expires is not None and expires > now:
        assert max_age <= -(-(expires - now) // 1000)


def test_a_new_event_snapshot_is_read_afresh_by_a_view_that_answered_the_old_one():
    view = view_of(regular_waves(2), total=500)
    assert describe(FakeEvent(), view, 450, T0 + 6000, TTL_S)["state"] == "sale_open"
    assert describe(FakeEvent(paused=True), view, 450, T0 + 6000, TTL_S)["state"] == "paused"


@given(offset_ms=st.integers(min_value=-120_000, max_value=700_000), n_waves=st.integers(min_value=0, max_value=6),
       paused=st.booleans())
def test_a_progress_answer_is_the_progress_document_with_its_validator_and_freshness(offset_ms, n_waves, paused):
    event, view, now = FakeEvent(paused=paused), view_of(regular_waves(n_waves), total=600), T0 + offset_ms
    document, etag, max_age = progress_answer(event, view, now)
    assert document == progress(event, view, now)
    assert etag == progress_validator(document, view.epoch)
    assert max_age == max_age_s(event, view, now)


def test_polls_of_one_room_view_share_the_progress_document_until_the_state_or_the_event_changes():
    event, view = FakeEvent(), view_of(regular_waves(2), total=500)
    before, first, later = (progress_answer(event, view, T0 + ms) for ms in (-1000, 6000, 6900))
    assert later.document is first.document and later.etag == first.etag
    assert (before.document["state"], first.document["state"]) == ("waiting", "sale_open")
    paused = progress_answer(FakeEvent(paused=True), view, T0 + 6900)
    assert paused.document["state"] == "paused" and paused.etag != first.etag
    assert progress_answer(event, view_of(regular_waves(3), total=500), T0 + 6900).etag != first.etag


def test_every_web_process_gives_an_answer_the_same_etag_whatever_its_hash_seed():
    # An edge cache revalidates with whichever web process it reaches: the ETag must not depend
    # on a process's PYTHONHASHSEED (str and bytes hashes do; the validator hashes ints only).
    script = ("from models.waiting_room.status import validator; "
              "print(validator({'state': 'sale_open', 'position': 7, 'total': 9, 'aheadOfYou': None, 'canEnter': True, "
              "'admission': 'admitted', 'admissionExpiresAt': '2026-11-30T09:10:00.000Z', "
              "'roomGeneration': 3}, 5))")
    etags = {subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": seed}, cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout for seed in ("1", "2", "random")}
    assert len(etags) == 1
    assert next(iter(etags)).startswith('W/"')
