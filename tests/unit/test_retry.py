"""Retry timing: waits between attempts, caps, jitter, Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mockback.delivery.retry import Backoff, RetryPolicy, next_delay, parse_retry_after

FIXED = Backoff.FIXED
EXPO = Backoff.EXPONENTIAL
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("policy", "attempt", "retry_after", "expected"),
    [
        # no retries configured: the first failure is the last
        (RetryPolicy(), 1, None, None),
        # fixed: the same wait after each failed attempt
        (RetryPolicy(retry_count=3, retry_delay=2.0), 1, None, 2.0),
        (RetryPolicy(retry_count=3, retry_delay=2.0), 3, None, 2.0),
        # the last attempt (1 + retry_count) gets no further wait
        (RetryPolicy(retry_count=3, retry_delay=2.0), 4, None, None),
        # past the last attempt stays None
        (RetryPolicy(retry_count=3, retry_delay=2.0), 9, None, None),
        # exponential: retry_delay × 2^(n−1)
        (RetryPolicy(retry_count=5, retry_delay=1.5, backoff=EXPO), 1, None, 1.5),
        (RetryPolicy(retry_count=5, retry_delay=1.5, backoff=EXPO), 2, None, 3.0),
        (RetryPolicy(retry_count=5, retry_delay=1.5, backoff=EXPO), 4, None, 12.0),
        # exponential growth stops at max_retry_delay
        (RetryPolicy(retry_count=9, retry_delay=1, backoff=EXPO, max_retry_delay=10), 5, None, 10),
        # a huge attempt number neither overflows nor escapes the cap
        (RetryPolicy(retry_count=10**6, retry_delay=1, backoff=EXPO), 5000, None, 300.0),
        # a zero base delay stays zero however many doublings
        (RetryPolicy(retry_count=10**6, retry_delay=0, backoff=EXPO), 5000, None, 0.0),
        # a fixed delay above the cap is kept as configured (the cap is for growth)
        (RetryPolicy(retry_count=2, retry_delay=600.0), 1, None, 600.0),
        # Retry-After longer than the computed delay wins
        (RetryPolicy(retry_count=2, retry_delay=1.0), 1, 30.0, 30.0),
        # Retry-After shorter than the computed delay does not shorten it
        (RetryPolicy(retry_count=2, retry_delay=5.0), 1, 2.0, 5.0),
        # Retry-After is capped by max_retry_delay
        (RetryPolicy(retry_count=2, retry_delay=1.0, max_retry_delay=60), 1, 3600.0, 60.0),
        # an infinite Retry-After (a number too large for a float) is capped too
        (RetryPolicy(retry_count=2, retry_delay=1.0), 1, float("inf"), 300.0),
        # Retry-After never lengthens a fixed delay that is already above the cap
        (RetryPolicy(retry_count=2, retry_delay=600.0), 1, 900.0, 600.0),
        # Retry-After does not buy an attempt that is not left
        (RetryPolicy(retry_count=1, retry_delay=1.0), 2, 30.0, None),
        # Retry-After applies to exponential waits as well
        (RetryPolicy(retry_count=3, retry_delay=1.0, backoff=EXPO), 2, 7.0, 7.0),
    ],
)
def test_next_delay(
    policy: RetryPolicy, attempt: int, retry_after: float | None, expected: float | None
) -> None:
    """The wait after a failed attempt follows the backoff, the cap and Retry-After."""
    assert next_delay(policy, attempt_number=attempt, retry_after=retry_after) == expected


@pytest.mark.parametrize(
    ("policy", "attempt", "low", "high"),
    [
        # fixed with jitter: within [delay/2, delay]
        (RetryPolicy(retry_count=3, retry_delay=4.0, jitter=True), 1, 2.0, 4.0),
        # exponential with jitter: the doubled delay is the upper bound
        (RetryPolicy(retry_count=3, retry_delay=4.0, backoff=EXPO, jitter=True), 3, 8.0, 16.0),
        # jitter draws below the cap, never above it
        (
            RetryPolicy(
                retry_count=9, retry_delay=4.0, backoff=EXPO, jitter=True, max_retry_delay=10
            ),
            6,
            5.0,
            10.0,
        ),
    ],
)
def test_jitter_stays_within_equal_jitter_bounds(
    policy: RetryPolicy, attempt: int, low: float, high: float
) -> None:
    """With jitter the wait lands in [delay/2, delay] and is not always the same."""
    rng = random.Random(1234)
    waits = [
        next_delay(policy, attempt_number=attempt, retry_after=None, rng=rng) for _ in range(200)
    ]
    assert all(w is not None and low <= w <= high for w in waits)
    assert len(set(waits)) > 100


def test_jitter_never_goes_below_retry_after() -> None:
    """A jittered wait still honours the target's Retry-After."""
    policy = RetryPolicy(retry_count=1, retry_delay=10.0, jitter=True)
    rng = random.Random(7)
    waits = [next_delay(policy, attempt_number=1, retry_after=8.0, rng=rng) for _ in range(200)]
    assert all(w is not None and 8.0 <= w <= 10.0 for w in waits)
    assert min(w for w in waits if w is not None) == 8.0


def test_seeded_jitter_is_repeatable() -> None:
    """The same seed gives the same waits, so schedules can be reproduced."""
    policy = RetryPolicy(retry_count=3, retry_delay=4.0, jitter=True)
    runs = []
    for _ in range(2):
        rng = random.Random(5)
        runs.append(
            [next_delay(policy, attempt_number=1, retry_after=None, rng=rng) for _ in range(5)]
        )
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 5


def test_attempt_numbers_are_one_based() -> None:
    """Attempt number 0 is a caller error, not a wait."""
    with pytest.raises(ValueError, match="1-based"):
        next_delay(RetryPolicy(retry_count=1), attempt_number=0, retry_after=None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        # a negative retry count makes no sense
        ({"retry_count": -1}, "retry_count"),
        # a negative delay makes no sense
        ({"retry_delay": -0.5}, "retry_delay"),
        # an infinite delay would never retry
        ({"retry_delay": float("inf")}, "retry_delay"),
        # NaN is not a number of seconds
        ({"max_retry_delay": float("nan")}, "max_retry_delay"),
    ],
)
def test_policy_rejects_bad_values(fields: dict[str, float], message: str) -> None:
    """A policy with an impossible value is refused, naming the field."""
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**fields)  # type: ignore[arg-type]


def test_total_attempts() -> None:
    """Total attempts are one plus the retry count."""
    assert RetryPolicy(retry_count=4).total_attempts == 5


def _http_date(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # delta-seconds
        ("120", 120.0),
        # surrounding whitespace is ignored
        ("  7 ", 7.0),
        # zero means retry now
        ("0", 0.0),
        # a fractional delta is accepted leniently
        ("1.5", 1.5),
        # a negative delta is clamped to 0
        ("-5", 0.0),
        # an IMF-fixdate 90 s ahead
        (_http_date(NOW + timedelta(seconds=90)), 90.0),
        # an obsolete RFC 850 date is still accepted
        ((NOW + timedelta(seconds=30)).strftime("%A, %d-%b-%y %H:%M:%S GMT"), 30.0),
        # an asctime() date (no zone: GMT by definition)
        ((NOW + timedelta(seconds=45)).strftime("%a %b %d %H:%M:%S %Y"), 45.0),
        # a date in the past is clamped to 0
        (_http_date(NOW - timedelta(hours=1)), 0.0),
        # garbage
        ("soon", None),
        # empty
        ("", None),
        # a number in a form HTTP does not use
        ("1e3", None),
        # a date with an impossible hour
        ("Wed, 01 May 2024 25:00:00 GMT", None),
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    """Retry-After is read as delta-seconds or an HTTP-date relative to now."""
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_with_naive_now() -> None:
    """A naive now is taken as UTC."""
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after(_http_date(NOW + timedelta(seconds=10)), naive) == 10.0


def test_parse_retry_after_with_other_zone_now() -> None:
    """The same instant in another zone gives the same wait."""
    paris = NOW.astimezone(timezone(timedelta(hours=2)))
    assert parse_retry_after(_http_date(NOW + timedelta(seconds=60)), paris) == 60.0


def test_parse_retry_after_huge_delta_is_infinite() -> None:
    """A delta too large for a float reads as infinity, which the policy then caps."""
    assert parse_retry_after("9" * 400, NOW) == float("inf")
