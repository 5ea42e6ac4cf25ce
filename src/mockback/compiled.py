"""A mock prepared for serving: templates compiled and static bodies encoded once, at save time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from mockback.domain.mocks import Mock, StoreScope
from mockback.matching import Candidate, make_candidate
from mockback.templating import Template, compile_template

_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"


def encode_payload(value: Any) -> tuple[bytes, bytes | None]:
    """Bytes of a response payload and its default content type (None for an empty body)."""
    if value is None:
        return b"", None
    if isinstance(value, str):
        return value.encode(), _TEXT
    if isinstance(value, bytes):
        return value, b"application/octet-stream"
    return orjson.dumps(value), _JSON


@dataclass(frozen=True, slots=True)
class CompiledExtraction:
    """One store write, with its template compiled."""

    scope: StoreScope  # which store
    key: str  # the key written
    template: Template  # renders the value


@dataclass(frozen=True, slots=True)
class CompiledMock:
    """What serving needs of a mock, prepared once."""

    mock: Mock  # the source
    status: int  # response status
    headers: tuple[tuple[bytes, Template], ...]  # header name (lower, latin-1) -> value template
    header_names: frozenset[str]  # lower-case names set by the mock
    payload: Template  # response body template
    static: tuple[bytes, bytes | None] | None  # encoded body and type when nothing is templated
    extractions: tuple[CompiledExtraction, ...]  # store writes, in order
    callbacks: tuple[Any, ...]  # compiled callbacks (delivery planner's shape)
    needs_stores: bool  # some template reads $.gS/$.cS/$.mS
    warnings: tuple[str, ...]  # template warnings, reported when the mock is saved


_STORE_ROOTS = frozenset({"gS", "cS", "mS"})


def compile_mock(
    mock: Mock, callbacks: tuple[Any, ...] = (), callback_warnings: tuple[str, ...] = ()
) -> CompiledMock:
    """Compile templates of a mock's response and extractions."""
    warnings: list[str] = []
    headers: list[tuple[bytes, Template]] = []
    for name, values in mock.response.headers:
        for value in values:
            t = compile_template(value)
            warnings.extend(f"response.headers.{name}: {w}" for w in t.warnings)
            headers.append((name.lower().encode("latin-1"), t))
    payload = compile_template(mock.response.payload)
    warnings.extend(f"response.payload: {w}" for w in payload.warnings)
    extractions = []
    roots: set[str] = set(payload.references())
    for ex in mock.extractions:
        t = compile_template(ex.expression)
        warnings.extend(f"extract.{ex.key}: {w}" for w in t.warnings)
        roots |= t.references()
        extractions.append(CompiledExtraction(ex.scope, ex.key, t))
    for _, t in headers:
        roots |= t.references()
    static = encode_payload(mock.response.payload) if payload.is_static else None
    warnings.extend(callback_warnings)
    return CompiledMock(
        mock=mock,
        status=mock.response.status_code,
        headers=tuple(headers),
        header_names=frozenset(n.decode("latin-1") for n, _ in headers),
        payload=payload,
        static=static,
        extractions=tuple(extractions),
        callbacks=callbacks,
        needs_stores=bool(roots & _STORE_ROOTS),
        warnings=tuple(warnings),
    )


def to_candidate(compiled: CompiledMock) -> Candidate:
    """The matching index's view of a compiled mock."""
    return make_candidate(compiled.mock, compiled)
