"""Deliveries and attempts: one firing of one callback and the history of trying to send it.

A delivery is created when a matched mock plans a callback. It is kept in the store (the
outbox) until it ends, so a restart resumes it. Each try to send it is an attempt.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from mockback.domain.values import value

_EMPTY: Mapping[str, Any] = MappingProxyType({})


# The three enums below key dicts and sets on every request and attempt. Their members are
# singletons compared by identity, so they are hashed by identity (in C) rather than by name
# (Enum's ``__hash__``, a Python call each time); equal members still hash equal.


class CallbackType(enum.Enum):
    """The transport a callback goes out on."""

    HTTP = "http"  # an HTTP request (webhook)
    KAFKA = "kafka"  # a Kafka message
    RABBITMQ = "rabbitmq"  # an AMQP 0-9-1 message

    __hash__ = object.__hash__


class DeliveryStatus(enum.Enum):
    """Where a delivery is in its life; the last five are final."""

    SCHEDULED = "scheduled"  # waits for its due time (a delay or a retry)
    PENDING = "pending"  # due, waits for a free worker
    IN_PROGRESS = "in_progress"  # an attempt is running
    SUCCEEDED = "succeeded"  # an attempt succeeded
    FAILED = "failed"  # every attempt failed, or the target said stop (410)
    BLOCKED = "blocked"  # the outbound policy refused the target
    CANCELLED = "cancelled"  # cancelled, or a dependency failed
    SKIPPED = "skipped"  # its condition was false: never sent

    # Whether the delivery has ended for good: set once on every member below, a plain
    # attribute rather than a property (it is asked several times per delivery).
    is_final: bool

    __hash__ = object.__hash__


_FINAL = frozenset(
    {
        DeliveryStatus.SUCCEEDED,
        DeliveryStatus.FAILED,
        DeliveryStatus.BLOCKED,
        DeliveryStatus.CANCELLED,
        DeliveryStatus.SKIPPED,
    }
)
for _status in DeliveryStatus:
    _status.is_final = _status in _FINAL


class AttemptOutcome(enum.Enum):
    """How one attempt ended."""

    SUCCESS = "success"  # 2xx, or the broker acknowledged
    FAILURE = "failure"  # the target answered, but not with success (3xx, 4xx, 5xx, unroutable)
    TIMEOUT = "timeout"  # no answer within the callback's timeout
    ERROR = "error"  # could not talk to the target (refused, DNS, TLS, protocol)
    BLOCKED = "blocked"  # the outbound policy refused the address

    __hash__ = object.__hash__


@value
class OutboundMessage:
    """A rendered callback, exactly as it is to be sent; transports take nothing else."""

    delivery_id: str  # stable across retries; sent as X-Mockback-Delivery-Id
    type: CallbackType  # which transport sends it
    target: str  # http: the URL; kafka: "brokers/topic"; rabbitmq: the AMQP URL (password masked elsewhere)
    method: str = "POST"  # http only
    headers: tuple[tuple[str, str], ...] = ()  # in order, duplicates allowed
    body: bytes = b""  # the exact bytes sent (signatures are computed over them)
    timeout: float = 30.0  # seconds for this attempt
    options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # transport-specific fields


@value
class AttemptResult:
    """What a transport reports about one attempt; it never raises for the target's faults."""

    outcome: AttemptOutcome  # how it ended
    duration_ms: float  # wall time of the attempt
    status_code: int | None = None  # http status, when an answer came
    error: str | None = None  # a human sentence when it did not succeed
    response_headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # lower-case names
    response_body: str | None = None  # up to the cap
    truncated: bool = False  # the body was longer than the cap
    retry_after: float | None = None  # seconds asked by Retry-After on 429/503
    stop_retrying: bool = False  # the target said the endpoint is gone (410)


@value
class Attempt:
    """One recorded attempt of a delivery."""

    number: int  # 1-based
    started_at: datetime  # UTC
    duration_ms: float  # wall time
    outcome: AttemptOutcome  # how it ended
    status_code: int | None = None  # http status, when an answer came
    error: str | None = None  # why it did not succeed
    response_headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # lower-case names
    response_body: str | None = None  # capped
    truncated: bool = False  # the body was cut at the cap


@value
class DeliveryRequest:
    """The rendered callback as it is (or was) sent; identical for every attempt but signatures."""

    method: str  # http method; "PUBLISH" for brokers
    url: str  # http URL; broker target for kafka/rabbitmq (password masked)
    headers: tuple[tuple[str, str], ...]  # rendered headers (without signatures and ids)
    body: bytes  # exact bytes


@value
class Delivery:
    """One firing of one callback, with everything needed to (re)try it after a restart."""

    id: str  # dlv_...; stable across retries
    mock_id: str | None  # the mock that fired it (None for change webhooks)
    namespace: str  # the mock's namespace
    request_id: str | None  # the served request that planned it
    callback_index: int  # position in the mock's webhooks[]
    callback_id: str | None  # the callback's id, if it has one
    type: CallbackType  # transport
    target: str  # where it goes, for display (no secrets)
    status: DeliveryStatus  # where it is in its life
    created_at: datetime  # planned at
    due_at: datetime  # next attempt not before
    finished_at: datetime | None = None  # when it ended
    attempt_count: int = 0  # attempts made so far
    error: str | None = None  # why it failed, was blocked, skipped or cancelled
    request: DeliveryRequest  # what is sent
    timeout: float = 30.0  # seconds per attempt
    retry: Mapping[str, Any] = field(
        default_factory=lambda: _EMPTY
    )  # retryCount, retryDelay, backoff, maxRetryDelay, jitter
    signing: Mapping[str, Any] | None = None  # scheme and secret(s), resolved at each attempt
    options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # transport fields
    depth: int = 1  # X-Mockback-Callback-Depth sent
    sync: bool = False  # the response waited for it
    attempts: tuple[Attempt, ...] = ()  # history, oldest first (filled when read with attempts)
