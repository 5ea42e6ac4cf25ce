"""A mock prepared for serving: templates compiled and static bodies encoded once, at save time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from mockback.domain.mocks import AssertAction, Mock, StoreScope
from mockback.domain.requests import RequestSnapshot
from mockback.matching import Candidate, ValueSource, make_candidate
from mockback.templating import FakeData, RenderContext, Template, compile_template, to_text

_JSON = b"application/json"
_NO_CONTEXT = RenderContext(fake=FakeData(seed=0))  # static templates read nothing from it
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
    needs_context: bool  # something renders per request (else the answer is fixed bytes)
    static_headers: tuple[tuple[bytes, bytes], ...] | None  # encoded when none is templated
    value_sources: dict[int, ValueSource]  # templated condition values, by condition index
    warnings: tuple[str, ...]  # template warnings, reported when the mock is saved
    context: RequestContext | None = None  # a request's template context (None: not prepared)


RequestContext = Callable[[RequestSnapshot, Mapping[str, str]], RenderContext]
"""Builds the template context of one request to one mock."""

ContextFor = Callable[[Mock], RequestContext]
"""Prepares, once per version of a mock, how its requests become template contexts."""


def _condition_sources(
    mock: Mock, context: RequestContext | None, warnings: list[str]
) -> dict[int, ValueSource]:
    """Condition values holding templates ($.gS.expected...) render against the request."""
    sources: dict[int, ValueSource] = {}
    for i, cond in enumerate(mock.conditions):
        if cond.action is AssertAction.MATCHES or not isinstance(cond.value, str):
            continue  # a regex taken from request data could be made to run for ever
        if "$." not in cond.value or context is None:
            continue
        template = compile_template(cond.value)
        if template.is_static:
            continue
        warnings.extend(f"http.{cond.source.value}: {w}" for w in template.warnings)

        def source(
            req: RequestSnapshot,
            params: Mapping[str, str],
            template: Template = template,
            ctx_for: RequestContext = context,
        ) -> Any:
            return template.render(ctx_for(req, params))

        sources[i] = source
    return sources


def compile_mock(
    mock: Mock,
    callbacks: tuple[Any, ...] = (),
    callback_warnings: tuple[str, ...] = (),
    context_for: ContextFor | None = None,
) -> CompiledMock:
    """Compile templates of a mock's response, headers, extractions and condition values."""
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
    for ex in mock.extractions:
        t = compile_template(ex.expression)
        warnings.extend(f"extract.{ex.key}: {w}" for w in t.warnings)
        extractions.append(CompiledExtraction(ex.scope, ex.key, t))
    static = encode_payload(mock.response.payload) if payload.is_static else None
    static_headers = None
    if all(t.is_static for _, t in headers):
        static_headers = tuple(
            (name, to_text(t.render(_NO_CONTEXT)).encode("latin-1", "replace"))
            for name, t in headers
        )
    context = context_for(mock) if context_for is not None else None
    sources = _condition_sources(mock, context, warnings)
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
        needs_context=bool(static is None or static_headers is None or extractions or callbacks),
        static_headers=static_headers,
        value_sources=sources,
        warnings=tuple(warnings),
        context=context,
    )


def to_candidate(compiled: CompiledMock) -> Candidate:
    """The matching index's view of a compiled mock."""
    return make_candidate(compiled.mock, compiled, compiled.value_sources)
