"""Configurable limits on what a mock may ask for (SPEC §7); exceeding one names the limit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Upper bounds applied when a mock is validated."""

    max_callbacks: int = 100  # items in webhooks[]
    max_retry_count: int = 100  # retryCount
    max_timeout: float = 300.0  # timeout, seconds
    max_retry_delay: float = 86_400.0  # retryDelay and maxRetryDelay, seconds
    max_delay: float = 604_800.0  # callback delay, seconds (7 days)
    max_response_delay_ms: int = 300_000  # response delay, milliseconds (5 minutes)
