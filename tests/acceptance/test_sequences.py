"""Callback sequences end to end: ``id`` and ``dependsOn`` on the real server and a real receiver.

A Stripe-like progression arrives in order with its delays counted from each predecessor's end,
``$.callbacks.<id>`` carries an earlier answer into a later body, a failed dependency cancels its
dependents, bad graphs are refused at save time, and a waiting dependent survives kill -9.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mockback.domain.deliveries import (
    CallbackType,
    Delivery,
    DeliveryRequest,
    DeliveryStatus,
)
from mockback.store.base import Store
from mockback.store.memory import MemoryStore
from mockback.store.sqlite import SqliteStore
from tests.acceptance.callbacks_support import (
    OPEN_POLICY,
    Hooks,
    gaps,
)
from tests.acceptance.conftest import RunningServer
from tests.support.receiver import Reply, ThreadedReceiver


def event(hooks: Hooks, kind: str, **extra: Any) -> dict[str, Any]:
    """A Stripe-like event callback to this test's receiver."""
    return {"id": kind, "url": hooks.url(), "body": {"type": f"payment_intent.{kind}"}, **extra}


def test_stripe_like_progression_arrives_in_order_with_its_spacing(hooks: Hooks) -> None:
    """created, then processing 0.3 s after it, then succeeded 0.6 s after processing."""
    hooks.mock(
        event(hooks, "succeeded", dependsOn=["processing"], delay=0.6),
        event(hooks, "created"),
        event(hooks, "processing", dependsOn=["created"], delay=0.3),
    )
    assert hooks.call().status_code == 200
    calls = hooks.calls(3)
    assert [c.json()["type"] for c in calls] == [
        "payment_intent.created",
        "payment_intent.processing",
        "payment_intent.succeeded",
    ]
    first, second = gaps(calls)
    assert first >= 0.29
    assert second >= 0.59
    items = hooks.ended(3)
    assert {i["status"] for i in items} == {"succeeded"}


def test_a_later_body_reads_an_earlier_answer(hooks: Hooks) -> None:
    """$.callbacks.<id>.status, .body and .headers expose a finished dependency's answer."""
    hooks.receiver.script(
        Reply(
            status=201,
            headers=(("Content-Type", "application/json"), ("X-Request-Id", "r-9")),
            body=b'{"id": "pi_123"}',
        ),
        path=hooks.path("/create"),
    )
    hooks.mock(
        {"id": "create", "url": hooks.url("/create"), "body": {"amount": "$.req.amount"}},
        {
            "id": "confirm",
            "dependsOn": ["create"],
            "url": hooks.url("/confirm"),
            "body": {
                "intent": "$.callbacks.create.body.id",
                "created": "$.callbacks.create.status",
                "trace": "$.callbacks.create.headers.x-request-id",
                "amount": "$.req.amount",
            },
        },
    )
    hooks.call(body={"amount": 500})
    (confirm,) = hooks.calls(1, "/confirm")
    assert confirm.json() == {"intent": "pi_123", "created": 201, "trace": "r-9", "amount": 500}


def test_a_failed_dependency_cancels_its_dependents(hooks: Hooks) -> None:
    """A dependency answered 500 without retries: dependents end cancelled, naming it."""
    hooks.receiver.script(Reply(status=500), path=hooks.path("/a"))
    hooks.mock(
        {"id": "a", "url": hooks.url("/a"), "retryCount": 0},
        {"id": "b", "url": hooks.url("/b"), "dependsOn": ["a"]},
        {"id": "c", "url": hooks.url("/c"), "dependsOn": ["b"]},
    )
    hooks.call()
    by_id = {i["callbackId"]: i for i in hooks.ended(3)}
    assert by_id["a"]["status"] == "failed"
    assert by_id["b"]["status"] == "cancelled"
    assert 'dependency "a" ended failed' in by_id["b"]["error"]
    assert by_id["c"]["status"] == "cancelled"
    assert 'dependency "b" ended cancelled' in by_id["c"]["error"]
    assert hooks.receiver.calls_to(hooks.path("/b")) == []


def test_a_sync_dependent_holds_the_answer_until_it_has_run(hooks: Hooks) -> None:
    """An async: false callback that waits for another is sent before the response returns."""
    hooks.mock(
        {"id": "a", "url": hooks.url("/a"), "delay": 0.2},
        {"id": "b", "url": hooks.url("/b"), "dependsOn": ["a"], "async": False},
    )
    started = time.monotonic()
    assert hooks.call().status_code == 200
    assert time.monotonic() - started >= 0.19
    assert len(hooks.receiver.calls_to(hooks.path("/b"))) == 1


@pytest.mark.parametrize(
    ("webhooks", "field"),
    [
        # an id no callback of the mock has
        ([{"id": "a"}, {"id": "b", "dependsOn": ["nope"]}], "webhooks[1].dependsOn"),
        # a callback waiting for itself
        ([{"id": "a", "dependsOn": ["a"]}], "webhooks[0].dependsOn"),
        # two callbacks waiting for each other
        (
            [{"id": "a", "dependsOn": ["b"]}, {"id": "b", "dependsOn": ["a"]}],
            "webhooks[0].dependsOn",
        ),
        # the named callback has no id
        ([{}, {"id": "b", "dependsOn": ["first"]}], "webhooks[1].dependsOn"),
    ],
)
def test_bad_graphs_are_refused_at_save_time(
    hooks: Hooks, webhooks: list[dict[str, Any]], field: str
) -> None:
    """Unknown ids, self-dependencies and cycles answer 400 naming webhooks[i].dependsOn."""
    document = {
        "id": hooks.name,
        "http": {"route": f"/{hooks.name}", "httpMethod": "POST"},
        "response": {"statusCode": 200},
        "webhooks": [{"url": hooks.url(), **w} for w in webhooks],
    }
    answer = hooks.server.client.post("/api/v1/mocks", json=document)
    assert answer.status_code == 400
    assert field in answer.text


def test_a_waiting_dependent_survives_kill_9(start_server: Any, tmp_path: Path) -> None:
    """Killed while a dependent waits for a delayed dependency, the restart sends both, in order."""
    data = str(tmp_path / "data")
    with ThreadedReceiver() as receiver:
        first: RunningServer = start_server("--data-dir", data, env=OPEN_POLICY)
        mock = {
            "id": "durable-seq",
            "http": {"route": "/pay", "httpMethod": "POST"},
            "response": {"statusCode": 200},
            "webhooks": [
                {"id": "a", "url": receiver.url("/a"), "delay": 1.5, "body": {"n": "$.req.n"}},
                {
                    "id": "b",
                    "url": receiver.url("/b"),
                    "dependsOn": ["a"],
                    "body": {"n": "$.req.n"},
                },
            ],
        }
        assert first.client.post("/api/v1/mocks", json=mock).status_code == 201
        assert first.client.post("/pay", json={"n": 7}).status_code == 200
        first.kill()
        assert receiver.calls_to("/a") == []
        second: RunningServer = start_server("--data-dir", data, env=OPEN_POLICY)
        (a,) = receiver.wait_for(1, timeout=20, path="/a")
        (b,) = receiver.wait_for(1, timeout=20, path="/b")
        assert a.arrived_monotonic <= b.arrived_monotonic
        assert b.json() == {"n": 7}
        assert second.stop() == 0


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    backend: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "db")
    await backend.open()
    yield backend
    await backend.close()


async def test_release_rewrites_a_waiting_delivery(store: Store) -> None:
    """release_delivery replaces status, times, target, request and options; unknown ids pass."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    waiting = Delivery(
        id="dlv_w",
        mock_id="m",
        namespace="sandbox",
        request_id="req_1",
        callback_index=1,
        callback_id="b",
        type=CallbackType.HTTP,
        target="http://x.test/{}",
        status=DeliveryStatus.SCHEDULED,
        created_at=now,
        due_at=datetime(9999, 1, 1, tzinfo=UTC),
        request=DeliveryRequest(method="POST", url="", headers=(), body=b""),
        options={"deferred": {"waitingFor": ["a"], "context": {}}},
    )
    await store.insert_deliveries([waiting])
    released = replace(
        waiting,
        status=DeliveryStatus.PENDING,
        due_at=now + timedelta(seconds=2),
        target="http://x.test/b",
        request=DeliveryRequest(
            method="POST", url="http://x.test/b", headers=(("A", "1"),), body=b"{}"
        ),
        options={},
    )
    await store.release_delivery(released)
    await store.release_delivery(replace(released, id="dlv_unknown"))
    got = await store.get_delivery("dlv_w")
    assert got is not None
    assert got.status is DeliveryStatus.PENDING
    assert got.due_at == now + timedelta(seconds=2)
    assert got.target == "http://x.test/b"
    assert got.request == released.request
    assert dict(got.options) == {}
    assert await store.get_delivery("dlv_unknown") is None
