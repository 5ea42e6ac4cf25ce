"""A served request as Mockback sees it, independent of any web framework."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

import orjson

_UNSET: Any = object()


class RequestSnapshot:
    """An incoming request, converted once at the door.

    Headers, query parameters and the JSON body are decoded on first use: most mocks never
    look at them, and the hot path should not pay for what it does not read.
    """

    __slots__ = (
        "_headers",
        "_json",
        "_query",
        "body",
        "client",
        "method",
        "path",
        "query_string",
        "raw_headers",
        "received_at",
    )

    def __init__(
        self,
        *,
        method: str,
        path: str,
        query_string: str = "",
        query: dict[str, list[str]] | None = None,
        headers: dict[str, list[str]] | None = None,
        raw_headers: Sequence[tuple[bytes, bytes]] = (),
        body: bytes = b"",
        client: str | None = None,
        received_at: float = 0.0,
    ) -> None:
        self.method = method  # upper-case
        self.path = path  # decoded path, without the query string
        self.query_string = query_string  # raw
        self.raw_headers = raw_headers  # as received (bytes pairs)
        self.body = body  # raw body
        self.client = client  # "host:port" of the caller
        self.received_at = received_at  # epoch seconds
        self._headers: dict[str, list[str]] | None = headers
        self._query: dict[str, list[str]] | None = query
        self._json: Any = _UNSET

    @property
    def headers(self) -> dict[str, list[str]]:
        """Lower-case header name -> values."""
        if self._headers is None:
            headers: dict[str, list[str]] = {}
            for raw_name, raw_value in self.raw_headers:
                name = raw_name.decode("latin-1").lower()
                value = raw_value.decode("latin-1")
                existing = headers.get(name)
                if existing is None:
                    headers[name] = [value]
                else:
                    existing.append(value)
            self._headers = headers
        return self._headers

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameter name -> values."""
        if self._query is None:
            self._query = (
                parse_qs(self.query_string, keep_blank_values=True) if self.query_string else {}
            )
        return self._query

    @property
    def json(self) -> Any:
        """The body parsed as JSON; the text when it is not JSON; None when empty."""
        if self._json is _UNSET:
            if not self.body:
                self._json = None
            else:
                try:
                    self._json = orjson.loads(self.body)
                except orjson.JSONDecodeError:
                    self._json = self.body.decode("utf-8", "replace")
        return self._json

    def header(self, name: str) -> str | None:
        """First value of a header (name case-insensitive)."""
        if self._headers is None:
            wanted = name.lower().encode("latin-1")
            size = len(wanted)
            for raw_name, raw_value in self.raw_headers:
                # Lengths first: most names differ in length, and lower() makes a new object.
                if len(raw_name) == size and raw_name.lower() == wanted:
                    return str(raw_value.decode("latin-1"))
            return None
        values = self._headers.get(name.lower())
        return values[0] if values else None
