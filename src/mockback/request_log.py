"""The request logs: served requests and unmatched ones, bounded, newest first, in memory.

Entries keep references to what serving already has and are turned into JSON only when the
log is read, so logging costs the hot path almost nothing. Bodies are kept up to 64 KiB.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from mockback.domain.requests import RequestSnapshot
from mockback.ids import request_id

BODY_CAP = 64 * 1024
# Shared empty values: an entry lives for the next ~1000 requests, and every object it owns is
# freed when it falls off, long after it left the CPU's caches.
_NO_PARAMS: Mapping[str, str] = MappingProxyType({})


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class LoggedRequest:
    """One request in a log."""

    __slots__ = (
        "_id",
        "body",
        "deliveries",
        "duration_ms",
        "mock_id",
        "namespace",
        "near_misses",
        "path_params",
        "request",
        "status",
    )

    def __init__(
        self,
        request: RequestSnapshot,
        *,
        namespace: str,
        mock_id: str | None = None,
        status: int = 404,
        path_params: Mapping[str, str] | None = None,
        duration_ms: float = 0.0,
        deliveries: Sequence[str] = (),
        near_misses: list[dict[str, Any]] | None = None,
        id: str | None = None,
    ) -> None:
        self.request = request  # the snapshot (its body capped below)
        self.body = request.body[:BODY_CAP]  # the same object when under the cap
        self.namespace = namespace  # where it was matched (or tried)
        self.mock_id = mock_id  # the mock that answered
        self.status = status  # the status answered
        self.path_params = _NO_PARAMS if path_params is None else path_params  # route params
        self.duration_ms = duration_ms  # time spent serving
        self.deliveries = deliveries  # delivery ids planned
        self.near_misses = near_misses  # unmatched only
        self._id = id

    @property
    def id(self) -> str:
        """The request's id (made on first use)."""
        if self._id is None:
            self._id = request_id(self.request.received_at or None)
        return self._id

    def as_json(self) -> dict[str, Any]:
        """Wire shape."""
        req = self.request
        out: dict[str, Any] = {
            "id": self.id,
            "receivedAt": _iso(req.received_at) if req.received_at else None,
            "method": req.method,
            "path": req.path,
            "query": req.query_string,
            "headers": {k: v if len(v) > 1 else v[0] for k, v in req.headers.items()},
            "body": self.body.decode("utf-8", "replace"),
            "bodyTruncated": len(req.body) > BODY_CAP,
            "namespace": self.namespace,
        }
        if self.near_misses is None:
            out.update(
                {
                    "mockId": self.mock_id,
                    "statusCode": self.status,
                    "pathParams": dict(self.path_params),
                    "durationMs": round(self.duration_ms, 3),
                    "deliveries": list(self.deliveries),
                }
            )
        else:
            out["nearMisses"] = self.near_misses
        return out


class RequestLog:
    """Two bounded logs; the oldest entries fall off."""

    def __init__(self, size: int) -> None:
        self._served: deque[LoggedRequest] = deque(maxlen=size)
        self._unmatched: deque[LoggedRequest] = deque(maxlen=size)

    def served(self, entry: LoggedRequest) -> None:
        """Record a request a mock answered."""
        self._served.append(entry)

    def unmatched(self, entry: LoggedRequest) -> None:
        """Record a request no mock matched."""
        self._unmatched.append(entry)

    @staticmethod
    def _page(
        entries: deque[LoggedRequest],
        offset: int,
        limit: int,
        mock_id: str | None,
        namespace: str | None,
    ) -> tuple[list[dict[str, Any]], int]:
        items = [
            e
            for e in reversed(entries)
            if (mock_id is None or e.mock_id == mock_id)
            and (namespace is None or e.namespace == namespace)
        ]
        return [e.as_json() for e in items[offset : offset + limit]], len(items)

    def list_served(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        mock_id: str | None = None,
        namespace: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Served requests, newest first."""
        return self._page(self._served, offset, limit, mock_id, namespace)

    def list_unmatched(
        self, *, offset: int = 0, limit: int = 100, namespace: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Unmatched requests, newest first."""
        return self._page(self._unmatched, offset, limit, None, namespace)

    def clear(self) -> None:
        """Forget everything."""
        self._served.clear()
        self._unmatched.clear()
