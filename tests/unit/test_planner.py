"""The planner: which callbacks fire, what they send, and what it hands to the engine."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from mockback.catalog import Catalog
from mockback.compiled import CompiledMock
from mockback.delivery.planner import Planner, compile_callbacks
from mockback.domain.deliveries import Delivery, DeliveryStatus
from mockback.matching import MockIndex
from mockback.schema.mocks import parse_mock
from mockback.templating import FakeData, RenderContext

NOW = 1_800_000_000.0


class Intake:
    """Records what the planner hands over; sync deliveries end at once."""

    def __init__(self) -> None:
        self.accepted: list[Delivery] = []

    async def accept(self, deliveries: list[Delivery]) -> list[asyncio.Future[Delivery]]:
        self.accepted.extend(deliveries)
        ends = []
        for d in deliveries:
            if d.sync and not d.status.is_final:
                end: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
                end.set_result(d)
                ends.append(end)
        return ends

    def submit(self, deliveries: list[Delivery]) -> None:
        raise AssertionError("the planner stores through accept")


def compiled(*webhooks: dict[str, Any]) -> CompiledMock:
    """A compiled mock with these callbacks."""
    parsed = parse_mock({"id": "m", "http": {"route": "/x"}, "webhooks": list(webhooks)})
    at = datetime.fromtimestamp(NOW, UTC)
    return Catalog(MockIndex(), compile_callbacks).compile(parsed, created_at=at, updated_at=at)


def ctx(body: Any = None, **kw: Any) -> RenderContext:
    """A request's render context."""
    return RenderContext(body=body, fake=FakeData(seed=1), **kw)


async def plan(
    mock: CompiledMock, *, status: int = 200, body: Any = None, response: Any = None, **kw: Any
) -> list[Delivery]:
    """What the planner hands over for one response."""
    intake = Intake()
    ids = await Planner(engine=intake, clock=lambda: NOW).plan(
        mock, ctx(body, **kw), status=status, response=response, request_id="req_1", depth=0
    )
    assert ids == [d.id for d in intake.accepted]
    return intake.accepted


@pytest.mark.parametrize(
    ("trigger", "status", "fires"),
    [
        ("always", 101, True),  # 1xx fires only always
        ("on_success", 101, False),
        ("on_error", 101, False),
        ("on_success", 200, True),  # 2xx: on_success and always
        ("on_success", 299, True),
        ("on_error", 299, False),
        ("always", 304, True),  # 3xx fires only always
        ("on_success", 304, False),
        ("on_error", 304, False),
        ("on_error", 400, True),  # 4xx and 5xx: on_error and always
        ("on_error", 599, True),
        ("on_success", 500, False),
    ],
)
async def test_trigger_rules(trigger: str, status: int, fires: bool) -> None:
    """A callback fires for the statuses its trigger names."""
    planned = await plan(compiled({"url": "http://h.test/", "trigger": trigger}), status=status)
    assert len(planned) == (1 if fires else 0)


async def test_delivery_carries_what_a_restart_needs() -> None:
    """A planned delivery is pending, one deeper, with its timeout, retry and sync flags."""
    mock = compiled(
        {
            "url": "http://h.test/$.req.id",
            "method": "put",
            "timeout": 2.5,
            "retryCount": 3,
            "retryDelay": 0.5,
            "backoff": "exponential",
            "async": False,
            "id": "first",
        }
    )
    (d,) = await plan(mock, body={"id": 7})
    assert d.id.startswith("dlv_") and (d.mock_id, d.request_id) == ("m", "req_1")
    assert (d.status, d.depth, d.sync, d.timeout) == (DeliveryStatus.PENDING, 1, True, 2.5)
    assert (d.callback_index, d.callback_id, d.target) == (0, "first", "http://h.test/7")
    assert d.request.method == "PUT" and d.request.url == "http://h.test/7"
    assert dict(d.retry) == {
        "retryCount": 3,
        "retryDelay": 0.5,
        "backoff": "exponential",
        "maxRetryDelay": 300.0,
        "jitter": False,
    }
    assert d.due_at == d.created_at == datetime.fromtimestamp(NOW, UTC)
    assert dict(d.options) == {}


async def test_delay_schedules_the_first_attempt() -> None:
    """A delayed callback is scheduled for now plus its fractional delay."""
    (d,) = await plan(compiled({"url": "http://h.test/", "delay": 1.25}))
    assert d.status is DeliveryStatus.SCHEDULED
    assert d.due_at.timestamp() == pytest.approx(NOW + 1.25)


@pytest.mark.parametrize(
    ("body", "headers", "sent", "content_type"),
    [
        ({"n": "$.req.n"}, {}, b'{"n":3}', "application/json"),  # objects as JSON
        (["$.req.n"], {}, b"[3]", "application/json"),  # arrays too
        ("n=$.req.n", {}, b"n=3", None),  # strings as they are
        ({"a": 1}, {"CONTENT-TYPE": "text/x"}, b'{"a":1}', "text/x"),  # the callback's type wins
        ({"big": "$.req.big"}, {}, b'{"big":' + str(2**70).encode() + b"}", "application/json"),
        (None, {}, b"", None),  # no body
    ],
)
async def test_bodies_and_content_type(
    body: Any, headers: dict[str, str], sent: bytes, content_type: str | None
) -> None:
    """Bodies are rendered and encoded; JSON ones are typed unless the callback typed them."""
    (d,) = await plan(
        compiled({"url": "http://h.test/", "body": body, "headers": headers}),
        body={"n": 3, "big": 2**70},
    )
    assert d.request.body == sent
    types = [v for k, v in d.request.headers if k.lower() == "content-type"]
    assert types == ([content_type] if content_type else [])


async def test_templates_see_the_response_and_status() -> None:
    """Callback templates read $.response, $.resp and $.statusCode; header values are text."""
    (d,) = await plan(
        compiled(
            {
                "url": "http://h.test/",
                "headers": {"X-Code": "$.statusCode", "X-Id": "$.resp.id"},
                "body": {"r": "$.response", "s": "$.statusCode"},
            }
        ),
        status=201,
        response={"id": "p-1"},
    )
    assert dict(d.request.headers)["X-Code"] == "201"
    assert dict(d.request.headers)["X-Id"] == "p-1"
    assert d.request.body == b'{"r":{"id":"p-1"},"s":201}'


async def test_false_condition_is_a_skipped_delivery() -> None:
    """A callback whose condition is false is recorded as skipped, never sent."""
    (d,) = await plan(
        compiled({"url": "http://h.test/", "condition": "$.req.amount > 100"}), body={"amount": 5}
    )
    assert d.status is DeliveryStatus.SKIPPED and d.finished_at is not None
    assert "condition false" in (d.error or "")


async def test_unsendable_render_fails_the_delivery_and_logs() -> None:
    """A header that renders to a line break fails at once with the SPEC's log line."""
    with capture_logs() as logs:
        (d,) = await plan(
            compiled({"url": "http://h.test/", "headers": {"X-H": "$.req.h"}}),
            body={"h": "a\r\nInjected: 1"},
        )
    assert d.status is DeliveryStatus.FAILED and d.attempt_count == 0
    assert "line break" in (d.error or "")
    (line,) = [e for e in logs if e["event"] == "Failed to prepare webhook body"]
    assert line["log_level"] == "error"
    assert (line["delivery_id"], line["mock_id"], line["callback_type"]) == (d.id, "m", "http")
    assert line["target"] == "http://h.test/"


async def test_no_callbacks_plan_nothing() -> None:
    """A response that fires nothing hands nothing over."""
    assert await plan(compiled({"url": "http://h.test/", "trigger": "on_error"})) == []
