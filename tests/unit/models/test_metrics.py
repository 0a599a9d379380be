"""models.metrics: tallies hand their counts to prometheus-client in bulk."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from models.metrics import JOIN_TALLY, JOINS, TALLIES, Tally


def _counter() -> Counter:
    return Counter("tally_test", "A counter of its own registry", ["outcome"], registry=CollectorRegistry())


def test_a_tally_reaches_its_counter_only_when_flushed_with_each_labels_count():
    counter = _counter()
    tally = Tally(counter)
    for outcome in ("new", "new", "rejoin", "new"):
        tally.add(outcome)
    assert counter.labels("new")._value.get() == 0
    tally.flush()
    assert (counter.labels("new")._value.get(), counter.labels("rejoin")._value.get()) == (3, 1)


def test_a_flushed_tally_starts_again_from_nothing():
    counter = _counter()
    tally = Tally(counter)
    tally.add("new")
    tally.flush()
    tally.flush()
    tally.add("new")
    tally.flush()
    assert counter.labels("new")._value.get() == 2


def test_the_joins_tally_feeds_the_joins_counter_and_is_flushed_with_the_others():
    JOIN_TALLY.flush()  # joins earlier tests made, not flushed by any app: not this test's
    before = JOINS.labels("rejoin")._value.get()
    JOIN_TALLY.add("rejoin")
    JOIN_TALLY.flush()
    assert JOINS.labels("rejoin")._value.get() == before + 1
    assert JOIN_TALLY in TALLIES
