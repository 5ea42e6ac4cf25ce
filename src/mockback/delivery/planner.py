"""Planning callbacks: which fire for a response, what exactly they send, and storing them.

Templates and conditions are compiled when the mock is saved (``compile_callbacks``); at request
time the planner only evaluates. Every firing becomes a stored delivery before the response is
sent (async callbacks) or before the response waits for it (``async: false``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import orjson

from mockback.conditions import Condition, ConditionSyntaxError, parse_condition
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
from mockback.store.base import Store
from mockback.templating import RenderContext, Template, compile_template, to_text
from mockback.templating.accessors import MISSING, Accessor, compile_expression
from mockback.templating.parse import parse_text

log = get_logger("mockback.delivery")

_SECRET_OPTIONS = ("kafkaPassword",)


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
        if spec.depends_on:
            problems.append(
                FieldProblem(
                    field=f"{where}.dependsOn",
                    problem="callback sequences (dependsOn) are not supported by this version",
                )
            )
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
        compiled.append(CompiledCallback(spec, url, headers, body, options, condition, lookups))
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


def mask_url(url: str) -> str:
    """A URL with its password replaced by ***."""
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


class Planner:
    """Turns a served request into stored deliveries and hands them to the engine."""

    def __init__(
        self, *, store: Store, engine: Any, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._engine = engine
        self._clock = clock

    async def plan(
        self,
        compiled: Any,
        ctx: RenderContext,
        *,
        status: int,
        response: Any,
        request_id: str,
        depth: int,
    ) -> list[str]:
        """Store the deliveries this response fires; wait for the sync ones to finish."""
        mock: Mock = compiled.mock
        cb_ctx = replace(ctx, response=response, status_code=status)
        now = self._clock()
        deliveries: list[Delivery] = []
        for cc in compiled.callbacks:
            spec = cc.spec
            if not spec.trigger.fires_for(status):
                continue
            deliveries.append(self._delivery(cc, mock, cb_ctx, now, request_id, depth + 1))
        if not deliveries:
            return []
        await self._store.insert_deliveries(deliveries)
        waits = [
            self._engine.completion(d.id) for d in deliveries if d.sync and not d.status.is_final
        ]
        self._engine.submit(deliveries)
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        return [d.id for d in deliveries]

    def _delivery(
        self,
        cc: CompiledCallback,
        mock: Mock,
        ctx: RenderContext,
        now: float,
        request_id: str,
        depth: int,
    ) -> Delivery:
        spec = cc.spec
        created = datetime.fromtimestamp(now, UTC)
        base = Delivery(
            id=delivery_id(),
            mock_id=mock.id,
            namespace=mock.namespace,
            request_id=request_id,
            callback_index=spec.index,
            callback_id=spec.id,
            type=spec.type,
            target="",
            status=DeliveryStatus.PENDING,
            created_at=created,
            due_at=created,
            request=DeliveryRequest(method=spec.method, url="", headers=(), body=b""),
            timeout=spec.timeout,
            retry={
                "retryCount": spec.retry_count,
                "retryDelay": spec.retry_delay,
                "backoff": spec.backoff.value,
                "maxRetryDelay": spec.max_retry_delay,
                "jitter": spec.jitter,
            },
            signing=dict(spec.signing) if spec.signing else None,
            depth=depth,
            sync=not spec.is_async,
        )
        if cc.condition is not None:

            def lookup(text: str) -> Any:
                accessor = cc.lookups.get(text)
                if accessor is None:
                    return None
                value = accessor(ctx)
                return None if value is MISSING else value

            if not cc.condition.evaluate(lookup):
                return replace(
                    base,
                    status=DeliveryStatus.SKIPPED,
                    finished_at=created,
                    target=self._display_target(spec, ctx, cc),
                    error=f"not fired: condition false ({spec.condition})",
                )
        try:
            request, target, options = self._render(cc, ctx)
        except Exception as exc:
            log.error(
                "Failed to prepare webhook body",
                mock_id=mock.id,
                callback_type=spec.type.value,
                callback_index=spec.index,
                error=repr(exc),
            )
            return replace(
                base,
                status=DeliveryStatus.FAILED,
                finished_at=created,
                error=f"failed to prepare the callback: {exc}",
            )
        due = now + spec.delay
        return replace(
            base,
            request=request,
            target=target,
            options=options,
            status=DeliveryStatus.SCHEDULED if spec.delay > 0 else DeliveryStatus.PENDING,
            due_at=datetime.fromtimestamp(due, UTC),
        )

    @staticmethod
    def _display_target(spec: CallbackSpec, ctx: RenderContext, cc: CompiledCallback) -> str:
        if spec.type is CallbackType.HTTP and cc.url is not None:
            return to_text(cc.url.render(ctx))
        if spec.type is CallbackType.KAFKA:
            return f"kafka://{spec.options.get('kafkaBrokers')}/{spec.options.get('kafkaTopic')}"
        return mask_url(str(spec.options.get("rabbitURL")))

    @staticmethod
    def _render(
        cc: CompiledCallback, ctx: RenderContext
    ) -> tuple[DeliveryRequest, str, dict[str, Any]]:
        spec = cc.spec
        headers = [(name, to_text(t.render(ctx))) for name, t in cc.headers]
        value = cc.body.render(ctx)
        if value is None:
            body = b""
        elif isinstance(value, str):
            body = value.encode()
        else:
            body = orjson.dumps(value)
            if not any(name.lower() == "content-type" for name, _ in headers):
                headers.append(("Content-Type", "application/json"))
        options: dict[str, Any] = dict(spec.options)
        for name, template in cc.options:
            options[name] = to_text(template.render(ctx))
        if spec.type is CallbackType.HTTP:
            assert cc.url is not None
            url = to_text(cc.url.render(ctx))
            return (
                DeliveryRequest(method=spec.method, url=url, headers=tuple(headers), body=body),
                url,
                options,
            )
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
