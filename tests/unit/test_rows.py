"""Delivery times as stored text: ISO 8601 with microseconds, whatever path formats them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from mockback.store.rows import dt, ts


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_utc_time_is_written_as_isoformat_with_microseconds_and_read_back(
    value: datetime,
) -> None:
    text = ts(value)
    assert text == value.isoformat(timespec="microseconds")
    assert dt(text) == value


def test_times_in_one_second_and_across_seconds_keep_their_own_digits() -> None:
    rng = random.Random(7)
    base = datetime(2026, 11, 23, 0, 59, 59, 999_999, tzinfo=UTC)
    values = [
        base + timedelta(microseconds=rng.randrange(-3_000_000, 3_000_000)) for _ in range(500)
    ]
    values += [base, base + timedelta(microseconds=1), base.replace(microsecond=0)]
    for value in values:
        assert ts(value) == value.isoformat(timespec="microseconds")
    # Text order is time order.
    assert sorted(values, key=ts) == sorted(values)


def test_other_zones_and_times_outside_the_fast_range_are_still_exact() -> None:
    for value in (
        datetime(2026, 11, 23, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=2))),
        datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC),
        datetime(2200, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ):
        assert ts(value) == value.isoformat(timespec="microseconds")
    assert ts(None) is None
