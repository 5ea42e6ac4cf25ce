"""Callback sequences: the dependsOn graph checked at save time, and waiting deliveries released
or cancelled by the engine (also when it starts again after a crash)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from mockback.compiled import CompiledMock, compile_mock
from mockback.delivery.engine import DeliveryEngine
from mockback.delivery.planner import DependentRenderer, compile_callbacks
from mockback.delivery.sequences import (
    DEFERRED,
    WAITING_DUE,
    callback_results,
    check_sequences,
)
from mockback.domain.callbacks import CallbackSpec
from mockback.domain.deliveries import (
    Attempt,
    AttemptOutcome,
    AttemptResult,
    CallbackType,
    Delivery,
    DeliveryRequest,
    DeliveryStatus,
)
from mockback.domain.errors import ValidationFailed
from mockback.metrics import Metrics
from mockback.schema.mocks import parse_mock
from mockback.store.base import DeliveryQuery
from mockback.store.memory import MemoryStore
from mockback.templating import FakeData


def specs(*pairs: tuple[str | None, tuple[str, ...]]) -> list[CallbackSpec]:
    """Callback specs from (id, dependsOn) pairs, in webhooks[] order."""
    return [
        CallbackSpec(index=i, id=cid, depends_on=deps, url="http://x.test/")
        for i, (cid, deps) in enumerate(pairs)
    ]


@pytest.mark.parametrize(
    ("graph", "field", "words"),
    [
        # a chain a <- b <- c is fine
        ([("a", ()), ("b", ("a",)), ("c", ("b", "a"))], None, ""),
        # an id no callback has
        ([("a", ()), ("b", ("zz",))], "webhooks[1].dependsOn", 'unknown callback id "zz"'),
        # a callback without an id cannot be named: "b" below has no id
        ([("a", ("b",)), (None, ())], "webhooks[0].dependsOn", 'unknown callback id "b"'),
        # a callback waiting for itself
        ([("a", ("a",))], "webhooks[0].dependsOn", "depends on itself"),
        # two callbacks waiting for each other
        ([("a", ("b",)), ("b", ("a",))], "webhooks[0].dependsOn", "dependency cycle"),
        # a longer cycle behind a root that is fine
        (
            [("r", ()), ("a", ("r", "c")), ("b", ("a",)), ("c", ("b",))],
            "webhooks[1].dependsOn",
            '"a" -> "c" -> "b" -> "a"',
        ),
    ],
)
def test_graph_check(
    graph: list[tuple[str | None, tuple[str, ...]]], field: str | None, words: str
) -> None:
    """Unknown ids, self-dependencies and cycles are problems naming webhooks[i].dependsOn."""
    problems = check_sequences(specs(*graph))
    if field is None:
        assert problems == []
        return
    assert problems[0].field == field
    assert words in problems[0].problem


def document(*webhooks: dict[str, Any]) -> dict[str, Any]:
    """A mock document with these callbacks."""
    return {
        "id": "seq",
        "http": {"route": "/pay", "httpMethod": "POST"},
        "response": {"statusCode": 200, "payload": {"ok": True}},
        "webhooks": list(webhooks),
    }


def compiled_of(doc: dict[str, Any]) -> CompiledMock:
    """The mock compiled as the catalog does."""
    now = datetime.now(UTC)
    mock = parse_mock(doc).to_mock(created_at=now, updated_at=now)
    callbacks, warnings = compile_callbacks(mock)
    return compile_mock(mock, callbacks, warnings)


def test_save_time_rejects_a_cycle() -> None:
    """Compiling a mock whose callbacks wait for each other fails naming the field."""
    doc = document(
        {"id": "a", "url": "http://x.test/", "dependsOn": ["b"]},
        {"id": "b", "url": "http://x.test/", "dependsOn": ["a"]},
    )
    with pytest.raises(ValidationFailed) as caught:
        compiled_of(doc)
    assert caught.value.details[0].field == "webhooks[0].dependsOn"


def test_results_parse_json_bodies_and_keep_text() -> None:
    """$.callbacks.<id> exposes the last attempt: status, body (JSON parsed, else text), headers."""
    json_one = ended("a", DeliveryStatus.SUCCEEDED, body='{"n": 1}', headers={"X-A": "1"})
    text_one = ended("b", DeliveryStatus.SUCCEEDED, body="plain")
    assert callback_results([json_one, text_one]) == {
        "a": {"status": 200, "body": {"n": 1}, "headers": {"x-a": "1"}},
        "b": {"status": 200, "body": "plain", "headers": {}},
    }


# ---- the engine


def ended(
    cid: str,
    status: DeliveryStatus,
    *,
    body: str = "{}",
    headers: dict[str, str] | None = None,
    error: str | None = None,
) -> Delivery:
    """An ended delivery of callback ``cid`` of request req_1, with one attempt."""
    now = datetime.now(UTC)
    return Delivery(
        id=f"dlv_{cid}",
        mock_id="seq",
        namespace="sandbox",
        request_id="req_1",
        callback_index=0,
        callback_id=cid,
        type=CallbackType.HTTP,
        target="http://x.test/",
        status=status,
        created_at=now,
        due_at=now,
        finished_at=now,
        attempt_count=1,
        error=error,
        request=DeliveryRequest(method="POST", url="http://x.test/", headers=(), body=b"{}"),
        attempts=(
            Attempt(
                number=1,
                started_at=now,
                duration_ms=1.0,
                outcome=AttemptOutcome.SUCCESS
                if status is DeliveryStatus.SUCCEEDED
                else AttemptOutcome.FAILURE,
                status_code=200 if status is DeliveryStatus.SUCCEEDED else 500,
                response_headers=headers or {},
                response_body=body,
            ),
        ),
    )


def waiting(cid: str, index: int, deps: list[str], *, sync: bool = False) -> Delivery:
    """A delivery of callback ``cid`` waiting for ``deps`` (as the planner stores it)."""
    now = datetime.now(UTC)
    context = {"body": {"amount": 42}, "namespace": "sandbox", "statusCode": 200}
    return Delivery(
        id=f"dlv_{cid}",
        mock_id="seq",
        namespace="sandbox",
        request_id="req_1",
        callback_index=index,
        callback_id=cid,
        type=CallbackType.HTTP,
        target="http://x.test/",
        status=DeliveryStatus.SCHEDULED,
        created_at=now,
        due_at=WAITING_DUE,
        request=DeliveryRequest(method="POST", url="", headers=(), body=b""),
        options={DEFERRED: {"waitingFor": deps, "context": context}},
        sync=sync,
    )


class Recorder:
    """An attempt maker that succeeds and remembers what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[Delivery] = []

    async def attempt(self, delivery: Delivery) -> AttemptResult:
        """Record and succeed."""
        self.sent.append(delivery)
        return AttemptResult(outcome=AttemptOutcome.SUCCESS, duration_ms=1.0, status_code=200)


async def until(check: Any, timeout: float = 3.0) -> None:
    """Wait until ``check()`` is true."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def engine_for(store: MemoryStore, sender: Recorder, compiled: CompiledMock | None) -> Any:
    """An engine whose waiting deliveries render with ``compiled``."""
    renderer = DependentRenderer(compiled_for=lambda _id: compiled, fake=FakeData(seed=1))
    return DeliveryEngine(
        store=store, sender=sender, pool_size=2, metrics=Metrics(), release=renderer
    )


async def test_start_releases_a_dependent_whose_dependency_already_succeeded() -> None:
    """After a crash between a dependency ending and its dependent's release, start sends it."""
    compiled = compiled_of(
        document(
            {"id": "a", "url": "http://x.test/a"},
            {
                "id": "b",
                "url": "http://x.test/b",
                "dependsOn": ["a"],
                "body": {"prev": "$.callbacks.a.body.n", "amount": "$.req.amount"},
            },
        )
    )
    store = MemoryStore()
    await store.insert_deliveries([ended("a", DeliveryStatus.SUCCEEDED, body='{"n": 7}')])
    await store.insert_deliveries([waiting("b", 1, ["a"])])
    sender = Recorder()
    engine = engine_for(store, sender, compiled)
    await engine.start()
    try:
        await until(lambda: len(sender.sent) == 1)
        (sent,) = sender.sent
        assert sent.id == "dlv_b"
        assert sent.request.url == "http://x.test/b"
        assert sent.request.body == b'{"prev":7,"amount":42}'
        await until(lambda: store._deliveries["dlv_b"].status is DeliveryStatus.SUCCEEDED)
    finally:
        await engine.stop()


async def test_a_failed_dependency_cancels_dependents_in_cascade() -> None:
    """A failed dependency ends its dependent and the dependent's own dependents cancelled."""
    store = MemoryStore()
    await store.insert_deliveries([ended("a", DeliveryStatus.FAILED, error="failure 500")])
    await store.insert_deliveries([waiting("b", 1, ["a"]), waiting("c", 2, ["b"], sync=True)])
    sender = Recorder()
    engine = engine_for(store, sender, None)
    await engine.start()
    try:
        done = engine.completion("dlv_c")
        await asyncio.wait_for(done, 3)
        items, _ = await store.list_deliveries(DeliveryQuery(request_id="req_1"))
        by_id = {d.id: d for d in items}
        assert by_id["dlv_b"].status is DeliveryStatus.CANCELLED
        assert 'dependency "a" ended failed' in (by_id["dlv_b"].error or "")
        assert by_id["dlv_c"].status is DeliveryStatus.CANCELLED
        assert 'dependency "b" ended cancelled' in (by_id["dlv_c"].error or "")
        assert sender.sent == []
    finally:
        await engine.stop()


async def test_a_dependent_waits_while_its_dependency_runs() -> None:
    """A dependent is not sent before its dependency has succeeded; then it is."""
    compiled = compiled_of(
        document(
            {"id": "a", "url": "http://x.test/a"},
            {"id": "b", "url": "http://x.test/b", "dependsOn": ["a"]},
        )
    )
    store = MemoryStore()
    sender = Recorder()
    engine = engine_for(store, sender, compiled)
    await engine.start()
    try:
        first = ended("a", DeliveryStatus.SUCCEEDED)
        pending = replace(
            first, status=DeliveryStatus.PENDING, finished_at=None, attempt_count=0, attempts=()
        )
        await engine.accept([pending, waiting("b", 1, ["a"])])
        await until(lambda: len(sender.sent) == 2)
        assert [d.id for d in sender.sent] == ["dlv_a", "dlv_b"]
    finally:
        await engine.stop()
