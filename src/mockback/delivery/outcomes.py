"""What an attempt leaves behind: the delivery's next status, the recorded Attempt, and the
log lines of SPEC §4.

Every line names the delivery, the mock, the callback type, the attempt number and the target,
so one delivery's story can be read from the logs alone.
"""

from __future__ import annotations

import random
import traceback
from datetime import UTC, datetime
from typing import Any

from mockback.delivery.retry import Backoff, RetryPolicy, next_delay
from mockback.domain.deliveries import (
    Attempt,
    AttemptOutcome,
    AttemptResult,
    Delivery,
    DeliveryStatus,
)

_FINAL_FOR_OUTCOME = {
    AttemptOutcome.SUCCESS: DeliveryStatus.SUCCEEDED,
    AttemptOutcome.BLOCKED: DeliveryStatus.BLOCKED,
}


def retry_policy(delivery: Delivery) -> RetryPolicy:
    """The retry policy stored with a delivery."""
    r = delivery.retry
    return RetryPolicy(
        retry_count=int(r.get("retryCount", 0)),
        retry_delay=float(r.get("retryDelay", 1.0)),
        backoff=Backoff(r.get("backoff", "fixed")),
        max_retry_delay=float(r.get("maxRetryDelay", 300.0)),
        jitter=bool(r.get("jitter", False)),
    )


def decide(
    delivery: Delivery, result: AttemptResult, now: float, rng: random.Random | None = None
) -> tuple[DeliveryStatus, float, str | None]:
    """(new status, due time, error) after an attempt that ended at ``now``.

    The attempt made is ``delivery.attempt_count + 1``; a redelivery counts its attempts afresh
    from ``retry["attemptBase"]``. A retry waits from the end of the failed attempt.
    """
    if result.outcome in _FINAL_FOR_OUTCOME:
        status = _FINAL_FOR_OUTCOME[result.outcome]
        return status, now, None if status is DeliveryStatus.SUCCEEDED else result.error
    if result.stop_retrying:
        return DeliveryStatus.FAILED, now, result.error
    base = int(delivery.retry.get("attemptBase", 0))
    number = delivery.attempt_count + 1 - base
    delay = next_delay(
        retry_policy(delivery), attempt_number=number, retry_after=result.retry_after, rng=rng
    )
    if delay is None:
        return DeliveryStatus.FAILED, now, result.error
    return DeliveryStatus.SCHEDULED, now + delay, result.error


def attempt_of(result: AttemptResult, *, number: int, ended: float) -> Attempt:
    """The Attempt to store for a result that came in at ``ended`` (epoch seconds)."""
    return Attempt(
        number=number,
        started_at=datetime.fromtimestamp(ended - result.duration_ms / 1000, UTC),
        duration_ms=round(result.duration_ms, 3),
        outcome=result.outcome,
        status_code=result.status_code,
        error=result.error,
        response_headers=result.response_headers,
        response_body=result.response_body,
        truncated=result.truncated,
    )


def unexpected_result(exc: BaseException) -> AttemptResult:
    """The result recorded when making an attempt raised (a bug, not the target's fault)."""
    return AttemptResult(
        outcome=AttemptOutcome.ERROR, duration_ms=0.0, error=f"unexpected error: {exc!r}"
    )


def delivery_fields(d: Delivery, number: int) -> dict[str, Any]:
    """The fields every delivery log line carries."""
    return {
        "delivery_id": d.id,
        "mock_id": d.mock_id,
        "callback_type": d.type._value_,  # as store/rows.py: .value is a Python descriptor
        "attempt": number,
        "target": d.target,
    }


def log_attempt(
    log: Any,
    d: Delivery,
    status: DeliveryStatus,
    result: AttemptResult,
    number: int,
    *,
    retry_in: float,
) -> None:
    """Log attempt ``number`` of ``d``, which left the delivery in ``status``."""
    fields = delivery_fields(d, number)
    fields["status_code"] = result.status_code
    fields["duration_ms"] = round(result.duration_ms, 3)
    if result.outcome is AttemptOutcome.SUCCESS:
        log.info("Callback executed successfully", **fields)
        return
    fields["outcome"] = result.outcome.value
    fields["error"] = result.error
    if status is DeliveryStatus.SCHEDULED:
        log.warning("Callback attempt failed", retry_in_s=round(retry_in, 3), **fields)
        return
    log.warning("Callback attempt failed", **fields)
    if status is DeliveryStatus.BLOCKED:
        log.error("Callback blocked by the outbound policy", **fields)
    else:
        log.error("Callback failed after all retries", **fields)


def log_unexpected(
    log: Any, message: str, exc: BaseException, *, delivery: Delivery | None = None
) -> None:
    """An ERROR line with the traceback, for what should not have happened."""
    fields = {} if delivery is None else delivery_fields(delivery, delivery.attempt_count + 1)
    trace = "".join(traceback.format_exception(exc))
    log.error(message, error=repr(exc), traceback=trace, **fields)
