"""Callback definitions of a mock (its ``webhooks[]``): what to send, where, when, how often."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mockback.domain.deliveries import CallbackType


class Trigger(enum.Enum):
    """Which response statuses fire a callback."""

    ON_SUCCESS = "on_success"  # 200-299
    ON_ERROR = "on_error"  # 400 and above
    ALWAYS = "always"  # every matched request

    def fires_for(self, status_code: int) -> bool:
        """Whether a response with this status fires the callback."""
        if self is Trigger.ALWAYS:
            return True
        if self is Trigger.ON_SUCCESS:
            return 200 <= status_code <= 299
        return status_code >= 400


class BackoffKind(enum.Enum):
    """How the wait between attempts grows."""

    FIXED = "fixed"  # retryDelay every time
    EXPONENTIAL = "exponential"  # retryDelay x 2^(n-1), capped


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackSpec:
    """One item of a mock's ``webhooks[]``, validated."""

    index: int  # position in webhooks[]
    type: CallbackType = CallbackType.HTTP  # transport
    trigger: Trigger = Trigger.ALWAYS  # which statuses fire it
    condition: str | None = None  # expression that must be true to fire
    delay: float = 0.0  # seconds before the first attempt
    timeout: float = 30.0  # seconds per attempt
    retry_count: int = 0  # attempts after a failed one
    retry_delay: float = 1.0  # seconds between attempts
    backoff: BackoffKind = BackoffKind.FIXED  # growth of the wait
    max_retry_delay: float = 300.0  # cap of any wait
    jitter: bool = False  # randomise exponential waits
    is_async: bool = True  # False: the response waits for every attempt
    id: str | None = None  # name for dependsOn and $.callbacks
    depends_on: tuple[str, ...] = ()  # ids that must succeed first
    url: Any = None  # http: templated target URL
    method: str = "POST"  # http method
    headers: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # templated
    body: Any = None  # templated body; a string is sent as is after substitution
    signing: Mapping[str, Any] | None = None  # scheme and secret(s)
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Transport fields (kafkaBrokers, kafkaTopic, kafkaKey, rabbitURL, ...) as written."""
