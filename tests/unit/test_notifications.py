"""Change events become deliveries: which webhooks match, and what they send."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from mockback.domain.access import ADMIN_DELIVERIES, ANONYMOUS
from mockback.domain.accounts import ChangeEvent, Namespace, WebhookScope
from mockback.domain.deliveries import Delivery, DeliveryStatus
from mockback.notifications import EVENT_HEADER, Notifications
from mockback.store.memory import MemoryStore
from mockback.templating import FakeData

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


class Intake:
    """Records what is handed to the engine."""

    def __init__(self) -> None:
        self.submitted: list[Delivery] = []

    def submit(self, deliveries: list[Delivery]) -> None:
        """Record."""
        self.submitted.extend(deliveries)

    def completion(self, delivery_id: str) -> asyncio.Future[Delivery]:
        """Never used here."""
        raise NotImplementedError


async def service(*hooks: tuple[WebhookScope, str | None, dict[str, Any]]) -> Notifications:
    store = MemoryStore()
    for name in ("team", "other"):
        await store.insert_namespace(Namespace(name=name, created_at=T0))
    notifications = Notifications(
        store=store, intake=Intake(), fake=FakeData(seed=1), clock=lambda: T0
    )
    for scope, namespace, data in hooks:
        await notifications.save_webhook(ANONYMOUS, scope, namespace, data)
    return notifications


def event(operation: str, namespace: str | None = "team", **data: Any) -> ChangeEvent:
    return ChangeEvent(
        operation=operation,
        namespace=namespace,
        actor="ann",
        timestamp=T0,
        data=data or {"id": "m1"},
        before={"id": "m0"},
    )


NS, ADMIN = WebhookScope.NAMESPACE, WebhookScope.ADMIN


@pytest.mark.parametrize(
    ("hook", "fired", "fires"),
    [
        ((NS, "team", {"operation": "mock.create"}), event("mock.create"), True),  # exact
        ((NS, "team", {"operation": "*"}), event("mock.delete"), True),  # any of the scope
        ((NS, "other", {"operation": "mock.create"}), event("mock.create"), False),  # elsewhere
        ((NS, "team", {"operation": "mock.update"}), event("mock.create"), False),  # other op
        ((NS, "team", {"operation": "*", "enabled": False}), event("mock.create"), False),  # off
        ((ADMIN, None, {"operation": "*"}), event("mock.create"), False),  # admin: not mocks
        ((NS, "team", {"operation": "*"}), event("namespace.create"), False),  # ns: not admin
        ((ADMIN, None, {"operation": "user.create"}), event("user.create", None), True),
    ],
)
async def test_which_webhooks_fire(
    hook: tuple[WebhookScope, str | None, dict[str, Any]], fired: ChangeEvent, fires: bool
) -> None:
    """A webhook fires for its scope, namespace and operation ("*": all), when enabled."""
    scope, namespace, data = hook
    notifications = await service((scope, namespace, {**data, "url": "http://x.test/"}))
    assert bool(notifications.deliveries(fired)) is fires


async def test_without_a_body_the_event_object_is_sent() -> None:
    """The default body is {operation, namespace, actor, timestamp, data}, as JSON."""
    notifications = await service(
        (NS, "team", {"id": "w", "operation": "mock.create", "url": "http://x.test/h"})
    )
    [d] = notifications.deliveries(event("mock.create", id="m1", route="/a"))
    assert orjson.loads(d.request.body) == {
        "operation": "mock.create",
        "namespace": "team",
        "actor": "ann",
        "timestamp": "2026-01-01T12:00:00Z",
        "data": {"id": "m1", "route": "/a"},
    }
    headers = dict(d.request.headers)
    assert headers["Content-Type"] == "application/json"
    assert headers[EVENT_HEADER] == "mock.create"
    assert (d.mock_id, d.namespace, d.callback_id, d.status) == (
        None,
        "team",
        "w",
        DeliveryStatus.PENDING,
    )


async def test_body_url_and_headers_are_templated_with_the_event() -> None:
    """$.event.* fields render in the url, the headers and the body, keeping JSON types."""
    notifications = await service(
        (
            NS,
            "team",
            {
                "operation": "*",
                "url": "http://x.test/$.event.operation",
                "headers": {"X-Actor": "$.event.actor"},
                "body": {
                    "what": "$.event.operation in $.event.namespace",
                    "id": "$.event.data.id",
                    "was": "$.event.before",
                    "n": "$.event.data.n",
                    "at": "$.event.timestamp",
                },
                "retryCount": 2,
                "retryDelay": 3,
                "signing": {"scheme": "github", "secret": "k"},
            },
        )
    )
    [d] = notifications.deliveries(event("mock.update", id="m1", n=5))
    assert d.request.url == "http://x.test/mock.update" and d.target == d.request.url
    assert dict(d.request.headers)["X-Actor"] == "ann"
    assert orjson.loads(d.request.body) == {
        "what": "mock.update in team",
        "id": "m1",
        "was": {"id": "m0"},
        "n": 5,
        "at": "2026-01-01T12:00:00Z",
    }
    assert d.retry["retryCount"] == 2 and d.retry["retryDelay"] == 3
    assert d.signing == {"scheme": "github", "secret": "k", "encoding": "hex"}


async def test_admin_deliveries_are_recorded_under_the_admin_marker() -> None:
    """Deliveries of admin webhooks carry the @admin namespace, so only admins see them."""
    notifications = await service((ADMIN, None, {"operation": "*", "url": "http://x.test/"}))
    [d] = notifications.deliveries(event("namespace.create", "team"))
    assert d.namespace == ADMIN_DELIVERIES


async def test_a_header_that_renders_a_line_break_fails_the_delivery_not_the_change() -> None:
    """A webhook that cannot be rendered yields a failed delivery saying why."""
    notifications = await service(
        (
            NS,
            "team",
            {"operation": "*", "url": "http://x.test/", "headers": {"X": "$.event.data.v"}},
        )
    )
    [d] = notifications.deliveries(event("mock.create", v="a\r\nInjected: 1"))
    assert d.status is DeliveryStatus.FAILED and d.error is not None
    assert "line break" in d.error


async def test_announce_hands_deliveries_to_the_engine() -> None:
    """Announced deliveries reach the intake; announcing nothing does not call it."""
    intake = Intake()
    notifications = Notifications(store=MemoryStore(), intake=intake, fake=FakeData(seed=1))
    notifications.announce([])
    assert intake.submitted == []
    await notifications.save_webhook(ANONYMOUS, ADMIN, None, {"operation": "*", "url": "http://x/"})
    out = notifications.deliveries(event("job.run", None))
    notifications.announce(out)
    assert intake.submitted == out and len(out) == 1
