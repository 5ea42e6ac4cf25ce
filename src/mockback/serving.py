"""Serving a request: match, extract, render the response, plan callbacks.

``MockServer.handle`` takes a framework-free ``RequestSnapshot`` and returns the bytes to send;
the web layer only converts at the door.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from mockback.compiled import CompiledMock, encode_payload
from mockback.contexts import ContextBuilder
from mockback.domain.mocks import DEFAULT_NAMESPACE, StoreScope
from mockback.domain.requests import RequestSnapshot
from mockback.matching import MatchResult, MockIndex
from mockback.metrics import Metrics
from mockback.request_log import LoggedRequest, RequestLog
from mockback.templating import FakeData, RenderContext
from mockback.values import StoreValues, owner_of

DEPTH_HEADER = "x-mockback-callback-depth"
_STUBS = "/stubs/"
_CT = b"content-type"
_CL = b"content-length"


@dataclass(slots=True)
class ServedResponse:
    """What goes back to the caller."""

    status: int  # HTTP status
    headers: list[tuple[bytes, bytes]]  # raw header pairs
    body: bytes  # raw body
    delay: float = 0.0  # seconds to wait before answering
    entry: LoggedRequest | None = None  # its request-log entry


class CallbackPlanner(Protocol):
    """Turns a served request into deliveries (the delivery engine implements it)."""

    async def plan(
        self,
        compiled: CompiledMock,
        ctx: RenderContext,
        *,
        status: int,
        response: Any,
        request_id: str,
        depth: int,
    ) -> list[str]:
        """Plan (and for sync callbacks, run) the callbacks; return delivery ids."""


def split_namespace(path: str) -> tuple[str, str]:
    """(namespace, route path) of a request path: /stubs/{ns}/rest, or sandbox."""
    if path.startswith(_STUBS):
        rest = path[len(_STUBS) :]
        ns, _, route = rest.partition("/")
        if ns:
            return ns, "/" + route
    return DEFAULT_NAMESPACE, path


class MockServer:
    """Answers requests from the index of active mocks."""

    def __init__(
        self,
        *,
        index: MockIndex,
        values: StoreValues,
        fake: FakeData,
        request_log: RequestLog,
        max_depth: int = 10,
        planner: CallbackPlanner | None = None,
        metrics: Metrics | None = None,
        contexts: ContextBuilder | None = None,
    ) -> None:
        self.index = index
        self.values = values
        self.fake = fake
        self.log = request_log
        self.max_depth = max_depth
        self.planner = planner
        self.contexts = contexts or ContextBuilder(values, fake)
        self._served = metrics.served if metrics else _nothing
        self._unmatched_count = metrics.unmatched if metrics else _nothing

    def _match(self, req: RequestSnapshot) -> tuple[str, MatchResult]:
        namespace, route_path = split_namespace(req.path)
        result = self.index.match(namespace, req, route_path)
        if result.candidate is None and namespace != DEFAULT_NAMESPACE:
            # A sandbox mock may itself live under /stubs/...; try the whole path there.
            fallback = self.index.match(DEFAULT_NAMESPACE, req, req.path)
            if fallback.candidate is not None:
                return DEFAULT_NAMESPACE, fallback
        return namespace, result

    async def handle(self, req: RequestSnapshot) -> ServedResponse:
        """Serve one request."""
        started = time.perf_counter()
        namespace, result = self._match(req)
        if result.candidate is None:
            return self._unmatched(req, namespace, result)
        compiled: CompiledMock = result.candidate.payload
        mock = compiled.mock
        ctx: RenderContext | None = None
        if compiled.needs_context:
            # The mock's context maker was prepared when it was compiled (else made here).
            context = compiled.context or self.contexts.for_mock(mock)
            ctx = context(req, result.path_params)
            if compiled.extractions:
                await self._extract(compiled, ctx)
        status = compiled.status
        response_value: Any
        if compiled.static is not None:
            body, content_type = compiled.static
            response_value = mock.response.payload
        else:
            assert ctx is not None
            response_value = compiled.payload.render(ctx)
            body, content_type = encode_payload(response_value)
        headers: list[tuple[bytes, bytes]] = []
        if compiled.static_headers is not None:
            headers.extend(compiled.static_headers)
        else:
            assert ctx is not None
            for name, template in compiled.headers:
                text = template.render_text(ctx)
                headers.append((name, text.encode("latin-1", "replace")))
        if content_type is not None and "content-type" not in compiled.header_names:
            headers.append((_CT, content_type))
        headers.append((_CL, str(len(body)).encode()))
        entry = LoggedRequest(
            req,
            namespace=mock.namespace,
            mock_id=mock.id,
            status=status,
            path_params=result.path_params,
        )
        if compiled.callbacks and self.planner is not None:
            depth = _depth(req)
            if depth < self.max_depth:
                assert ctx is not None
                entry.deliveries = await self.planner.plan(
                    compiled,
                    ctx,
                    status=status,
                    response=response_value,
                    request_id=entry.id,
                    depth=depth,
                )
        entry.duration_ms = (time.perf_counter() - started) * 1000
        self.log.served(entry)
        self._served()
        return ServedResponse(status, headers, body, mock.response.delay_ms / 1000.0, entry)

    async def _extract(self, compiled: CompiledMock, ctx: RenderContext) -> None:
        """Run extractions against the request; writes are visible to the response."""
        mock = compiled.mock
        writes: dict[tuple[StoreScope, str], dict[str, Any]] = {}
        for ex in compiled.extractions:
            owner = owner_of(
                ex.scope, namespace=mock.namespace, chain_id=mock.chain_id, mock_id=mock.id
            )
            value = ex.template.render(ctx)
            group = writes.setdefault((ex.scope, owner), {})
            group[ex.key] = value
            # Later extractions (and the response) see earlier ones: apply at once.
            self.values.apply(ex.scope, owner, {ex.key: value})
        for (scope, owner), values in writes.items():
            await self.values.persist(scope, owner, values)

    def _unmatched(
        self, req: RequestSnapshot, namespace: str, result: MatchResult
    ) -> ServedResponse:
        misses = [m.as_json() for m in result.near_misses]
        body = orjson.dumps(
            {
                "error": f"No mock matched {req.method} {req.path}",
                "namespace": namespace,
                "nearMisses": misses,
            }
        )
        entry = LoggedRequest(req, namespace=namespace, near_misses=misses)
        self.log.unmatched(entry)
        self._unmatched_count()
        return ServedResponse(
            404, [(_CT, b"application/json"), (_CL, str(len(body)).encode())], body, 0.0, entry
        )


def _depth(req: RequestSnapshot) -> int:
    raw = req.header(DEPTH_HEADER)
    if raw is None:
        return 0
    try:
        return max(0, int(raw.strip()))
    except ValueError:
        return 0


def _nothing() -> None:
    return None
