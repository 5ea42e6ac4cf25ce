"""Change webhooks (SPEC §8): kept in the Store, cached here, and turned into deliveries.

A service that changes something asks ``deliveries(event, ...)`` for the change's webhooks
*before* writing, hands them to the Store method that writes the change (they are stored in
the same transaction), and calls ``announce`` once that has returned: the delivery engine then
sends them like any callback (durable, retried, logged, signed, same outbound policy). A change
that committed therefore always yields its webhooks, even if the process dies right after.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from mockback.delivery.planner import DeliveryIntake
from mockback.domain.access import (
    ADMIN_DELIVERIES,
    Need,
    Principal,
    no_namespace,
    require,
    require_admin,
)
from mockback.domain.accounts import (
    NAMESPACE_OPERATIONS,
    ChangeEvent,
    ChangeWebhook,
    WebhookScope,
)
from mockback.domain.deliveries import CallbackType, Delivery, DeliveryRequest, DeliveryStatus
from mockback.domain.errors import FieldProblem, NotFound
from mockback.ids import delivery_id
from mockback.logs import get_logger
from mockback.schema.change_webhooks import ANY_OPERATION, parse_change_webhook, webhook_view
from mockback.store.account_rows import webhook_key
from mockback.store.base import Store
from mockback.templating import FakeData, RenderContext, Template, compile_template

log = get_logger("mockback.notifications")

EVENT_HEADER = "X-Mockback-Event"


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A change webhook with its templates compiled once, when it is saved or loaded."""

    webhook: ChangeWebhook  # the definition
    url: Template  # templated target
    headers: tuple[tuple[str, Template], ...]  # templated headers
    body: Template | None  # None: the default event object is sent


def _compile(w: ChangeWebhook) -> _Compiled:
    return _Compiled(
        webhook=w,
        url=compile_template(w.url),
        headers=tuple((name, compile_template(value)) for name, value in w.headers.items()),
        body=None if w.body is None else compile_template(w.body),
    )


def event_context(event: ChangeEvent, fake: FakeData) -> RenderContext:
    """What ``$.event.*`` (and ``$.namespace``, ``$.fake.*``) resolve against."""
    return RenderContext(
        event={**event.as_json(), "before": event.before},
        namespace=event.namespace or "",
        fake=fake,
    )


def _encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        # Integers past 64 bits are valid JSON that orjson does not write; json does.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class Notifications:
    """Change webhooks: their administration, and the deliveries a change event makes."""

    def __init__(
        self,
        *,
        store: Store,
        intake: DeliveryIntake,
        fake: FakeData,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._intake = intake
        self._fake = fake
        self._clock = clock
        self._hooks: dict[tuple[str, str, str], _Compiled] = {}

    async def load(self) -> None:
        """Cache every stored change webhook."""
        self._hooks = {
            webhook_key(w): _compile(w) for w in await self._store.list_change_webhooks()
        }

    # ---- events

    def deliveries(self, *events: ChangeEvent) -> list[Delivery]:
        """The deliveries these events fire, rendered and ready to be stored with the change."""
        out: list[Delivery] = []
        for event in events:
            namespaced = event.operation in NAMESPACE_OPERATIONS
            ctx: RenderContext | None = None
            for compiled in self._hooks.values():
                w = compiled.webhook
                if not w.enabled or w.operation not in (event.operation, ANY_OPERATION):
                    continue
                if namespaced != (w.scope is WebhookScope.NAMESPACE):
                    continue
                if namespaced and w.namespace != event.namespace:
                    continue
                ctx = ctx or event_context(event, self._fake)
                out.append(self._delivery(compiled, event, ctx))
        return out

    def announce(self, deliveries: Sequence[Delivery]) -> None:
        """Hand stored deliveries to the engine (after the change committed)."""
        if deliveries:
            self._intake.submit(list(deliveries))

    def _delivery(self, compiled: _Compiled, event: ChangeEvent, ctx: RenderContext) -> Delivery:
        w = compiled.webhook
        now = self._clock()
        base = Delivery(
            id=delivery_id(),
            mock_id=None,
            namespace=(event.namespace or "")
            if w.scope is WebhookScope.NAMESPACE
            else ADMIN_DELIVERIES,
            request_id=None,
            callback_index=0,
            callback_id=w.id,
            type=CallbackType.HTTP,
            target=w.url,
            status=DeliveryStatus.PENDING,
            created_at=now,
            due_at=now,
            request=DeliveryRequest(method=w.method, url=w.url, headers=(), body=b""),
            timeout=w.timeout,
            retry={
                "retryCount": w.retry_count,
                "retryDelay": w.retry_delay,
                "backoff": "fixed",
                "maxRetryDelay": 300.0,
                "jitter": False,
            },
            signing=None if w.signing is None else dict(w.signing),
            depth=1,
        )
        try:
            request = self._render(compiled, event, ctx)
        except Exception as exc:
            log.error(
                "Failed to prepare webhook body",
                delivery_id=base.id,
                webhook_id=w.id,
                operation=event.operation,
                callback_type="http",
                attempt=0,
                target=w.url,
                error=str(exc) or repr(exc),
            )
            return _failed(base, f"failed to prepare the change webhook: {exc}")
        return _ready(base, request)

    @staticmethod
    def _render(compiled: _Compiled, event: ChangeEvent, ctx: RenderContext) -> DeliveryRequest:
        w = compiled.webhook
        headers: list[tuple[str, str]] = []
        for name, template in compiled.headers:
            text = template.render_text(ctx)
            if any(c in text for c in "\r\n\x00"):
                raise ValueError(f"header {name!r} renders to a value with a line break")
            headers.append((name, text))
        value: Any = event.as_json() if compiled.body is None else compiled.body.render(ctx)
        if value is None:
            body = b""
        elif isinstance(value, str):
            body = value.encode()
        else:
            body = _encode(value)
            if not any(name.lower() == "content-type" for name, _ in headers):
                headers.append(("Content-Type", "application/json"))
        headers.append((EVENT_HEADER, event.operation))
        url = compiled.url.render_text(ctx)
        if any(c in url for c in "\r\n\x00"):
            raise ValueError("the url renders to a value with a line break")
        return DeliveryRequest(method=w.method, url=url, headers=tuple(headers), body=body)

    # ---- administration

    async def _check(self, caller: Principal, scope: WebhookScope, namespace: str | None) -> None:
        if scope is WebhookScope.ADMIN:
            require_admin(caller, "Admin webhooks")
            return
        assert namespace is not None
        if await self._store.get_namespace(namespace) is None:
            raise no_namespace(namespace)()
        require(caller, Need.READ, namespace, no_namespace(namespace))

    async def list_webhooks(
        self, caller: Principal, scope: WebhookScope, namespace: str | None
    ) -> list[dict[str, Any]]:
        """The webhooks of a namespace, or the admin webhooks."""
        await self._check(caller, scope, namespace)
        return [
            webhook_view(c.webhook)
            for c in sorted(self._hooks.values(), key=lambda c: c.webhook.created_at)
            if c.webhook.scope is scope and c.webhook.namespace == namespace
        ]

    async def save_webhook(
        self, caller: Principal, scope: WebhookScope, namespace: str | None, data: Any
    ) -> tuple[dict[str, Any], bool]:
        """Create, or update by id; (view, created)."""
        await self._check(caller, scope, namespace)
        if namespace is not None:
            require(caller, Need.MANAGE, namespace, no_namespace(namespace))
        wanted = data.get("id") if isinstance(data, dict) else None
        before = None
        if isinstance(wanted, str):
            found = self._hooks.get((scope.value, namespace or "", wanted))
            before = None if found is None else found.webhook
        webhook = parse_change_webhook(
            data, scope=scope, namespace=namespace, now=self._clock(), before=before
        )
        compiled = _compile(webhook)
        previous = await self._store.put_change_webhook(webhook)
        self._hooks[webhook_key(webhook)] = compiled
        return webhook_view(webhook), previous is None

    async def delete_webhook(
        self, caller: Principal, scope: WebhookScope, namespace: str | None, webhook_id: str
    ) -> None:
        """Remove one; NotFound when absent."""
        await self._check(caller, scope, namespace)
        if namespace is not None:
            require(caller, Need.MANAGE, namespace, no_namespace(namespace))
        if not await self._store.delete_change_webhook(scope, namespace, webhook_id):
            raise NotFound(
                f'No change webhook with id "{webhook_id}".',
                (FieldProblem(field="id", problem="does not exist"),),
            )
        self._hooks.pop((scope.value, namespace or "", webhook_id), None)

    def forget_namespace(self, namespace: str) -> None:
        """Drop the cached webhooks of a deleted namespace (the Store dropped them)."""
        scope = WebhookScope.NAMESPACE.value
        for key in [k for k in self._hooks if k[0] == scope and k[1] == namespace]:
            del self._hooks[key]


def _failed(base: Delivery, error: str) -> Delivery:
    return replace(base, status=DeliveryStatus.FAILED, finished_at=base.created_at, error=error)


def _ready(base: Delivery, request: DeliveryRequest) -> Delivery:
    return replace(base, request=request, target=request.url)
