"""Retry timing: how long to wait after a failed attempt, and whether to try again at all.

Pure values in, a number of seconds out; no clock, no I/O (the caller passes ``now`` and a
random source). The rules, from the callback's fields:

* ``retry_count`` extra attempts after the first (total = 1 + retry_count);
* ``fixed``: every wait is ``retry_delay``;
* ``exponential``: the wait after attempt *n* is ``retry_delay × 2^(n−1)``, capped by
  ``max_retry_delay``;
* ``jitter``: "equal jitter": the wait is drawn uniformly from ``[delay/2, delay]``. Full jitter
  (``[0, delay]``) spreads retries a little wider but may retry almost at once, which defeats the
  spacing the user asked for; equal jitter still keeps at least half of it while breaking up a
  burst of deliveries that failed together;
* ``Retry-After`` (sent with 429/503): the wait is the larger of the computed delay and the
  target's request, and the target's request is capped by ``max_retry_delay``. A fixed
  ``retry_delay`` above the cap is kept as configured: Retry-After can lengthen a wait up to the
  cap, never shorten one.

The wait counts from the end of the failed attempt; the caller adds it to that instant.
"""

from __future__ import annotations

import enum
import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Beyond 2^64 any sane retry_delay is far past any cap; stopping there keeps the float finite.
_MAX_EXPONENT = 64

_DELTA_SECONDS = re.compile(r"[+-]?\d+(?:\.\d+)?")


class Backoff(enum.Enum):
    """How the wait grows from one retry to the next."""

    FIXED = "fixed"  # the same wait every time
    EXPONENTIAL = "exponential"  # doubles after every failed attempt, up to the cap


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """The retry fields of one callback, validated."""

    retry_count: int = 0  # attempts after the first one (total = 1 + retry_count)
    retry_delay: float = 1.0  # seconds; the base wait between attempts
    backoff: Backoff = Backoff.FIXED  # how the wait grows
    max_retry_delay: float = 300.0  # seconds; caps exponential waits and Retry-After
    jitter: bool = False  # randomise each wait within [delay/2, delay]

    def __post_init__(self) -> None:
        if self.retry_count < 0:
            raise ValueError(f"retry_count must be 0 or more, not {self.retry_count}")
        for name in ("retry_delay", "max_retry_delay"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value}")

    @property
    def total_attempts(self) -> int:
        """How many attempts a delivery gets in all."""
        return 1 + self.retry_count


def next_delay(
    policy: RetryPolicy,
    *,
    attempt_number: int,
    retry_after: float | None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait after failed attempt ``attempt_number`` (1-based); None when none is left.

    ``retry_after`` is what the target asked for (already parsed, in seconds), or None.
    ``rng`` is only used with jitter; pass a seeded one for repeatable results.
    """
    if attempt_number < 1:
        raise ValueError(f"attempt_number is 1-based, not {attempt_number}")
    if attempt_number >= policy.total_attempts:
        return None
    delay = _backoff_delay(policy, attempt_number)
    if policy.jitter:
        delay = (rng or random.Random()).uniform(delay / 2, delay)
    if retry_after is not None and not math.isnan(retry_after):
        delay = max(delay, min(max(retry_after, 0.0), policy.max_retry_delay))
    return delay


def _backoff_delay(policy: RetryPolicy, attempt_number: int) -> float:
    if policy.backoff is Backoff.FIXED:
        return policy.retry_delay
    factor = 2.0 ** min(attempt_number - 1, _MAX_EXPONENT)
    return min(policy.retry_delay * factor, policy.max_retry_delay)


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds asked for by a ``Retry-After`` value (delta-seconds or an HTTP-date).

    Garbage gives None; a negative delta or a date in the past gives 0; a delta too large for
    a float gives infinity (``next_delay`` caps it). A naive ``now`` is taken as UTC.
    """
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        return max(float(text), 0.0)
    try:
        when = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    # HTTP-dates are always GMT; asctime() forms parse as naive.
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)
