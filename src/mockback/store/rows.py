"""Deliveries and attempts as table rows: the one place that converts between the two shapes."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson

from mockback.domain.deliveries import (
    Attempt,
    AttemptOutcome,
    CallbackType,
    Delivery,
    DeliveryRequest,
    DeliveryStatus,
)
from mockback.store.base import DeliveryUpdate

DELIVERY_COLUMNS = (
    "id, mock_id, namespace, request_id, callback_index, callback_id, type, target, status,"
    " created_at, due_at, finished_at, attempt_count, error, body, spec"
)
ATTEMPT_COLUMNS = (
    "delivery_id, number, started_at, duration_ms, outcome, status_code, error,"
    " response_headers, response_body, truncated"
)


class _Stamps:
    """Times as stored text, the part up to the second formatted once per second.

    ``isoformat`` was the dearest part of a delivery's rows (it writes three times), and the
    times of one write mostly fall in the same second. Only UTC times from 1970 to 2096 take this path: there the
    float timestamp tells its second exactly.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        # (second, its text) in one tuple: threads that share it read a consistent pair
        self._last = (-1, "")

    def text(self, value: datetime) -> str:
        if value.tzinfo is not UTC:
            return value.isoformat(timespec="microseconds")
        at = value.timestamp()
        if not 0 <= at < 4e9:
            return value.isoformat(timespec="microseconds")
        second = int(at)
        last = self._last
        if second != last[0]:
            last = self._last = (second, datetime.fromtimestamp(second, UTC).isoformat()[:-6])
        return f"{last[1]}.{value.microsecond:06d}+00:00"


_stamps = _Stamps()


def ts(value: datetime | None) -> str | None:
    """A time as stored: ISO 8601 with microseconds always written, so text order is time order."""
    return None if value is None else _stamps.text(value)


def dt(value: str | None) -> datetime | None:
    """A stored time back."""
    return None if value is None else datetime.fromisoformat(value)


# Enum texts are read from the member's own ``_value_`` attribute: ``Enum.value`` is a
# Python-level descriptor, two Python calls a lookup, several per delivery.


def _mapping(value: Any) -> Any:
    """orjson's fallback: read-only mappings (MappingProxyType) are written as objects."""
    # The exact type first: an isinstance check against the Mapping ABC costs more than the copy.
    if type(value) is MappingProxyType or isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def delivery_row(d: Delivery) -> tuple[Any, ...]:
    """Values for DELIVERY_COLUMNS."""
    # Tuples become arrays and read-only mappings objects as orjson writes them: no copies.
    spec = {
        "method": d.request.method,
        "url": d.request.url,
        "headers": d.request.headers,
        "timeout": d.timeout,
        "retry": d.retry,
        "signing": d.signing,
        "options": d.options,
        "depth": d.depth,
        "sync": d.sync,
    }
    created = ts(d.created_at)
    return (
        d.id,
        d.mock_id,
        d.namespace,
        d.request_id,
        d.callback_index,
        d.callback_id,
        d.type._value_,
        d.target,
        d.status._value_,
        created,
        created if d.due_at is d.created_at else ts(d.due_at),
        ts(d.finished_at),
        d.attempt_count,
        d.error,
        d.request.body,
        orjson.dumps(spec, default=_mapping).decode(),
    )


def state_row(u: DeliveryUpdate) -> tuple[Any, ...]:
    """Values for an update of a delivery's state: id, status, due_at, finished_at,
    attempt_count, error."""
    due = ts(u.due_at)
    # A final update ends when it is due: one time, written once.
    finished = due if u.finished_at is u.due_at else ts(u.finished_at)
    return (u.delivery_id, u.status._value_, due, finished, u.attempt_count, u.error)


def delivery_from_row(row: tuple[Any, ...], attempts: tuple[Attempt, ...] = ()) -> Delivery:
    """A Delivery from DELIVERY_COLUMNS values."""
    spec = orjson.loads(row[15])
    created, due = dt(row[9]), dt(row[10])
    assert created is not None and due is not None
    body = row[14]
    if isinstance(body, str):  # tolerate text written by hand
        body = body.encode()
    return Delivery(
        id=row[0],
        mock_id=row[1],
        namespace=row[2],
        request_id=row[3],
        callback_index=row[4],
        callback_id=row[5],
        type=CallbackType(row[6]),
        target=row[7],
        status=DeliveryStatus(row[8]),
        created_at=created,
        due_at=due,
        finished_at=dt(row[11]),
        attempt_count=row[12],
        error=row[13],
        request=DeliveryRequest(
            method=spec["method"],
            url=spec["url"],
            headers=tuple((h[0], h[1]) for h in spec["headers"]),
            body=bytes(body or b""),
        ),
        timeout=spec["timeout"],
        retry=spec["retry"],
        signing=spec["signing"],
        options=spec["options"],
        depth=spec["depth"],
        sync=spec["sync"],
        attempts=attempts,
    )


def attempt_row(delivery_id: str, a: Attempt) -> tuple[Any, ...]:
    """Values for ATTEMPT_COLUMNS."""
    return (
        delivery_id,
        a.number,
        ts(a.started_at),
        a.duration_ms,
        a.outcome._value_,
        a.status_code,
        a.error,
        orjson.dumps(dict(a.response_headers)).decode(),
        a.response_body,
        1 if a.truncated else 0,
    )


def attempt_from_row(row: tuple[Any, ...]) -> Attempt:
    """An Attempt from ATTEMPT_COLUMNS values."""
    started = dt(row[2])
    assert started is not None
    return Attempt(
        number=row[1],
        started_at=started,
        duration_ms=row[3],
        outcome=AttemptOutcome(row[4]),
        status_code=row[5],
        error=row[6],
        response_headers=orjson.loads(row[7]) if row[7] else {},
        response_body=row[8],
        truncated=bool(row[9]),
    )


def encode_body(body: bytes) -> str:
    """Body bytes for JSON answers: text when it is UTF-8, else base64 with a marker."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(body).decode()
