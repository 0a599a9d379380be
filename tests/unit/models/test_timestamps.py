"""Every instant the API writes has one format: UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from models.timestamps import iso


def test_an_instant_is_written_in_utc_to_the_millisecond_with_a_z():
    assert iso(datetime(2030, 11, 1, 17, 3, 12, 345678, tzinfo=UTC)) == "2030-11-01T17:03:12.345Z"


def test_a_whole_second_still_has_three_fraction_digits():
    assert iso(datetime(2030, 5, 1, 19, 30, tzinfo=UTC)) == "2030-05-01T19:30:00.000Z"


def test_another_zone_is_converted_to_utc():
    minus_five = timezone(timedelta(hours=-5))
    assert iso(datetime(2031, 3, 1, 19, 30, tzinfo=minus_five)) == "2031-03-02T00:30:00.000Z"


def test_a_naive_value_is_taken_as_utc():
    assert iso(datetime(2030, 1, 1, 0, 0, 0, 1000)) == "2030-01-01T00:00:00.001Z"


def test_none_stays_none():
    assert iso(None) is None


def test_equal_instants_read_the_same_whatever_their_zone_however_many_were_written():
    instant = datetime(2031, 3, 1, 18, 0, 0, 250_000, tzinfo=UTC)
    first = iso(instant)
    for n in range(10_000):  # more than the remembered instants
        iso(instant + timedelta(milliseconds=n + 1))
    assert iso(instant.astimezone(timezone(timedelta(hours=9)))) == first == "2031-03-01T18:00:00.250Z"
    assert iso(instant.replace(tzinfo=None)) == first
