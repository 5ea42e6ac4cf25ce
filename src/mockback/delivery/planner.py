"""Planning callbacks: which fire for a response, what exactly they send, and storing them.

Templates and conditions are compiled when the mock is saved (``compile_callbacks``); at request
time the planner only evaluates. Every firing becomes a stored delivery before the response is
sent (async callbacks) or before the response waits for it (``async: false``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import orjson

from mockback.compiled import CompiledMock
from mockback.conditions import Condition, ConditionSyntaxError, parse_condition
from mockback.delivery.sequences import (
    DEFERRED,
    WAITING_DUE,
    callback_results,
    check_sequences,
    freeze_context,
    thaw_context,
)
from mockback.delivery.signing import SigningError, standard_webhooks_key
from mockback.domain.callbacks import CallbackSpec
from mockback.domain.deliveries import (
    CallbackType,
    Delivery,
    DeliveryRequest,
    DeliveryStatus,
)
from mockback.domain.errors import FieldProblem, ValidationFailed
from mockback.domain.mocks import Mock
from mockback.ids import delivery_id
from mockback.logs import get_logger
from mockback.templating import FakeData, RenderContext, Template, compile_template
from mockback.templating.accessors import MISSING, Accessor, compile_expression
from mockback.templating.parse import parse_text

log = get_logger("mockback.delivery")


@dataclass(frozen=True, slots=True)
class CompiledCallback:
    """One callback of a mock, with its templates and condition compiled."""

    spec: CallbackSpec  # the definition
    url: Template | None  # http target
    headers: tuple[tuple[str, Template], ...]  # templated headers
    body: Template  # templated body
    options: tuple[tuple[str, Template], ...]  # templated transport fields (kafkaKey, ...)
    condition: Condition | None  # must be true to fire
    lookups: Mapping[str, Accessor]  # accessors of the condition's expressions
    retry: Mapping[str, Any]  # the retry fields every delivery of it carries
    signing: Mapping[str, Any] | None  # scheme and secret(s), as written


def _retry_fields(spec: CallbackSpec) -> Mapping[str, Any]:
    return MappingProxyType(
        {
            "retryCount": spec.retry_count,
            "retryDelay": spec.retry_delay,
            "backoff": spec.backoff.value,
            "maxRetryDelay": spec.max_retry_delay,
            "jitter": spec.jitter,
        }
    )


_TEMPLATED_OPTIONS = ("kafkaKey", "rabbitRoutingKey", "rabbitExchange", "rabbitQueue", "kafkaTopic")


def compile_callbacks(mock: Mock) -> tuple[tuple[CompiledCallback, ...], tuple[str, ...]]:
    """Compile a mock's callbacks; raise ValidationFailed for conditions that do not parse."""
    compiled: list[CompiledCallback] = []
    warnings: list[str] = []
    problems: list[FieldProblem] = []
    for spec in mock.callbacks:
        where = f"webhooks[{spec.index}]"
        condition = None
        lookups: dict[str, Accessor] = {}
        if spec.condition is not None and spec.condition.strip():
            try:
                condition = parse_condition(spec.condition)
            except ConditionSyntaxError as exc:
                problems.append(
                    FieldProblem(
                        field=f"{where}.condition",
                        problem=f"syntax error at position {exc.position}: {exc.message}",
                    )
                )
            else:
                for text in condition.expressions:
                    whole = parse_text(text).whole
                    if whole is not None:
                        lookups[text] = compile_expression(whole)
        if spec.signing is not None:
            problems.extend(_check_signing(where, spec.signing))
        url = compile_template(spec.url) if spec.url is not None else None
        headers = tuple((name, compile_template(value)) for name, value in spec.headers.items())
        body = compile_template(spec.body)
        options = tuple(
            (name, compile_template(spec.options[name]))
            for name in _TEMPLATED_OPTIONS
            if isinstance(spec.options.get(name), str) and spec.options.get(name)
        )
        for label, template in (("url", url), ("body", body), *headers, *options):
            if template is not None:
                warnings.extend(f"{where}.{label}: {w}" for w in template.warnings)
        compiled.append(
            CompiledCallback(
                spec,
                url,
                headers,
                body,
                options,
                condition,
                lookups,
                _retry_fields(spec),
                MappingProxyType(dict(spec.signing)) if spec.signing else None,
            )
        )
    problems.extend(check_sequences(mock.callbacks))
    if problems:
        raise ValidationFailed(
            problems[0].problem
            if len(problems) == 1
            else f"Invalid mock: {len(problems)} problems.",
            tuple(problems),
        )
    return tuple(compiled), tuple(warnings)


def _check_signing(where: str, signing: Mapping[str, Any]) -> list[FieldProblem]:
    secrets = signing["secret"] if isinstance(signing["secret"], list) else [signing["secret"]]
    if signing["scheme"] != "standard-webhooks":
        return []
    problems = []
    for i, secret in enumerate(secrets):
        if secret.startswith(("env:", "$.")):
            continue
        try:
            standard_webhooks_key(secret)
        except SigningError as exc:
            problems.append(
                FieldProblem(
                    field=f"{where}.signing.secret" + (f"[{i}]" if len(secrets) > 1 else ""),
                    problem=str(exc),
                )
            )
    return problems


@functools.lru_cache(maxsize=1024)
def mask_url(url: str) -> str:
    """A URL with its password replaced by *** (remembered: a mock's rabbitURL repeats)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    user = quote(parts.username or "", safe="")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class DeliveryIntake(Protocol):
    """Where planned deliveries go (the delivery engine)."""

    async def accept(self, deliveries: list[Delivery]) -> list[asyncio.Future[Delivery]]:
        """Store new deliveries (durable on return), take them over; the sync ones' ends."""
        ...

    def submit(self, deliveries: list[Delivery]) -> None:
        """Take over deliveries already stored (with the change that planned them)."""
        ...


class CallbackNotPrepared(Exception):
    """A callback could not be rendered into something sendable."""


def _encode_body(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        # Integers past 64 bits are valid JSON that orjson does not write; json does.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _check_header(name: str, value: str) -> None:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise CallbackNotPrepared(f"header {name!r} renders to a value with a line break")


class Planner:
    """Turns a served request into stored deliveries and hands them to the engine."""

    def __init__(self, *, engine: DeliveryIntake, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

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
        """Store the deliveries this response fires; wait for the sync ones to finish.

        ``depth`` is the triggering request's callback depth; deliveries carry ``depth + 1``.
        Async deliveries are durable when this returns (before the response is sent).
        """
        mock = compiled.mock
        cb_ctx: RenderContext | None = None
        now = self._clock()
        deliveries: list[Delivery] = []
        fired = [cc for cc in compiled.callbacks if cc.spec.trigger.fires_for(status)]
        fired_ids: set[str] | None = None
        for cc in fired:
            if cb_ctx is None:
                cb_ctx = ctx.answered(response, status)
            if cc.spec.depends_on:
                if fired_ids is None:
                    fired_ids = {f.spec.id for f in fired if f.spec.id}
                deliveries.append(
                    _waiting(cc, mock, cb_ctx, now, request_id, depth + 1, fired_ids, status)
                )
                continue
            deliveries.append(self._delivery(cc, mock, cb_ctx, now, request_id, depth + 1))
        if not deliveries:
            return []
        waits = await self._engine.accept(deliveries)
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        return [d.id for d in deliveries]

    @staticmethod
    def _delivery(
        cc: CompiledCallback,
        mock: Mock,
        ctx: RenderContext,
        now: float,
        request_id: str,
        depth: int,
    ) -> Delivery:
        spec = cc.spec
        created = datetime.fromtimestamp(now, UTC)
        status = DeliveryStatus.SCHEDULED if spec.delay > 0 else DeliveryStatus.PENDING
        due = datetime.fromtimestamp(now + spec.delay, UTC) if spec.delay > 0 else created
        finished: datetime | None = None
        error: str | None = None
        new_id = delivery_id()
        options: Mapping[str, Any] = _NO_OPTIONS
        if cc.condition is not None and not _condition_holds(cc, ctx):
            request = DeliveryRequest(method=spec.method, url="", headers=(), body=b"")
            target = Planner._display_target(spec, ctx, cc)
            status, due, finished = DeliveryStatus.SKIPPED, created, created
            error = f"not fired: condition false ({spec.condition})"
        else:
            try:
                request, target, options = Planner._render(cc, ctx)
            except Exception as exc:
                request = DeliveryRequest(method=spec.method, url="", headers=(), body=b"")
                target = Planner._display_target(spec, ctx, cc)
                status, due, finished = DeliveryStatus.FAILED, created, created
                error = f"failed to prepare the callback: {exc}"
                log.error(
                    "Failed to prepare webhook body",
                    delivery_id=new_id,
                    mock_id=mock.id,
                    callback_type=spec.type.value,
                    callback_index=spec.index,
                    attempt=0,
                    target=target,
                    error=str(exc) or repr(exc),
                )
        return Delivery(
            id=new_id,
            mock_id=mock.id,
            namespace=mock.namespace,
            request_id=request_id,
            callback_index=spec.index,
            callback_id=spec.id,
            type=spec.type,
            target=target,
            status=status,
            created_at=created,
            due_at=due,
            finished_at=finished,
            error=error,
            request=request,
            timeout=spec.timeout,
            retry=cc.retry,
            signing=cc.signing,
            options=options,
            depth=depth,
            sync=not spec.is_async,
        )

    @staticmethod
    def _display_target(spec: CallbackSpec, ctx: RenderContext, cc: CompiledCallback) -> str:
        try:
            if spec.type is CallbackType.HTTP and cc.url is not None:
                return cc.url.render_text(ctx)
        except Exception:
            return str(spec.url)
        if spec.type is CallbackType.KAFKA:
            return f"kafka://{spec.options.get('kafkaBrokers')}/{spec.options.get('kafkaTopic')}"
        return mask_url(str(spec.options.get("rabbitURL")))

    @staticmethod
    def _render(
        cc: CompiledCallback, ctx: RenderContext
    ) -> tuple[DeliveryRequest, str, Mapping[str, Any]]:
        spec = cc.spec
        headers = []
        for name, template in cc.headers:
            value = template.render_text(ctx)
            _check_header(name, value)
            headers.append((name, value))
        value = cc.body.render(ctx)
        if value is None:
            body = b""
        elif isinstance(value, str):
            body = value.encode()
        else:
            body = _encode_body(value)
            if not any(name.lower() == "content-type" for name, _ in headers):
                headers.append(("Content-Type", "application/json"))
        if spec.type is CallbackType.HTTP:
            # An http callback needs nothing of the transport fields: none are kept.
            assert cc.url is not None
            url = cc.url.render_text(ctx)
            if "\r" in url or "\n" in url or "\x00" in url:
                raise CallbackNotPrepared("the url renders to a value with a line break")
            return (
                DeliveryRequest(method=spec.method, url=url, headers=tuple(headers), body=body),
                url,
                _NO_OPTIONS,
            )
        options: dict[str, Any] = dict(spec.options)
        for name, template in cc.options:
            options[name] = template.render_text(ctx)
        if spec.type is CallbackType.KAFKA:
            target = f"kafka://{options.get('kafkaBrokers')}/{options.get('kafkaTopic')}"
            return (
                DeliveryRequest(method="PUBLISH", url=target, headers=tuple(headers), body=body),
                target,
                options,
            )
        url = mask_url(str(options.get("rabbitURL")))
        exchange = options.get("rabbitExchange") or ""
        key = options.get("rabbitRoutingKey") or options.get("rabbitQueue") or ""
        target = f"{url} exchange={exchange!r} routingKey={key!r}"
        return (
            DeliveryRequest(method="PUBLISH", url=url, headers=tuple(headers), body=body),
            target,
            options,
        )


_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


def _condition_holds(cc: CompiledCallback, ctx: RenderContext) -> bool:
    assert cc.condition is not None

    def lookup(text: str) -> Any:
        accessor = cc.lookups.get(text)
        if accessor is None:
            return None
        value = accessor(ctx)
        return None if value is MISSING else value

    return bool(cc.condition.evaluate(lookup))


def _waiting(
    cc: CompiledCallback,
    mock: Mock,
    ctx: RenderContext,
    now: float,
    request_id: str,
    depth: int,
    fired_ids: set[str],
    status: int,
) -> Delivery:
    """A delivery that waits for its dependencies (or is cancelled: one of them did not fire)."""
    spec = cc.spec
    created = datetime.fromtimestamp(now, UTC)
    missing = [name for name in spec.depends_on if name not in fired_ids]
    error = (
        f'dependency "{missing[0]}" did not fire (its trigger does not match status {status})'
        if missing
        else None
    )
    return Delivery(
        id=delivery_id(),
        mock_id=mock.id,
        namespace=mock.namespace,
        request_id=request_id,
        callback_index=spec.index,
        callback_id=spec.id,
        type=spec.type,
        target=Planner._display_target(spec, ctx, cc),
        status=DeliveryStatus.CANCELLED if missing else DeliveryStatus.SCHEDULED,
        created_at=created,
        due_at=created if missing else WAITING_DUE,
        finished_at=created if missing else None,
        error=error,
        request=DeliveryRequest(method=spec.method, url="", headers=(), body=b""),
        timeout=spec.timeout,
        retry=cc.retry,
        signing=cc.signing,
        options=_NO_OPTIONS
        if missing
        else {DEFERRED: {"waitingFor": list(spec.depends_on), "context": freeze_context(ctx)}},
        depth=depth,
        sync=not spec.is_async,
    )


CompiledFor = Callable[[str], CompiledMock | None]
"""The compiled mock now served under an id (None when it is gone)."""


class DependentRenderer:
    """Decides what a waiting delivery becomes once its dependencies have moved on."""

    def __init__(self, *, compiled_for: CompiledFor, fake: FakeData) -> None:
        self._compiled_for = compiled_for
        self._fake = fake

    def __call__(self, d: Delivery, siblings: list[Delivery], now: float) -> Delivery | None:
        """Its new state, given the request's deliveries (ended ones with attempts); None
        while a dependency is still under way. Released deliveries are due after their own
        delay from ``now``; a dependency that ended without success cancels it."""
        deferred = d.options[DEFERRED]
        by_id = {s.callback_id: s for s in siblings if s.callback_id}
        waiting = False
        for name in deferred["waitingFor"]:
            dep = by_id.get(name)
            if dep is None:
                return _cancelled(d, now, f'dependency "{name}" has no delivery')
            if not dep.status.is_final:
                waiting = True
            elif dep.status is not DeliveryStatus.SUCCEEDED:
                why = f": {dep.error}" if dep.error else ""
                return _cancelled(d, now, f'dependency "{name}" ended {dep.status.value}{why}')
        if waiting:
            return None
        compiled = self._compiled_for(d.mock_id) if d.mock_id else None
        cc = _callback_of(compiled, d) if compiled is not None else None
        if compiled is None or cc is None:
            return _cancelled(
                d, now, f'the callback is gone: mock "{d.mock_id}" was deleted or changed'
            )
        ctx = thaw_context(
            deferred["context"], fake=self._fake, callbacks=callback_results(siblings)
        )
        fresh = Planner._delivery(cc, compiled.mock, ctx, now, d.request_id or "", d.depth)
        return replace(fresh, id=d.id, created_at=d.created_at, sync=d.sync)


def _callback_of(compiled: CompiledMock, d: Delivery) -> CompiledCallback | None:
    for cc in compiled.callbacks:
        if cc.spec.index == d.callback_index and cc.spec.id == d.callback_id:
            return cc  # type: ignore[no-any-return]
    return None


def _cancelled(d: Delivery, now: float, error: str) -> Delivery:
    ended = datetime.fromtimestamp(now, UTC)
    return replace(
        d,
        status=DeliveryStatus.CANCELLED,
        due_at=ended,
        finished_at=ended,
        error=error,
        options=_NO_OPTIONS,
    )
