"""The sender: outbound checks (cached briefly), URL problems, and callbacks to itself."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest

from mockback.delivery.outbound_policy import OutboundPolicy
from mockback.delivery.sender import Sender
from mockback.delivery.transports.http import CONNECT_IP
from mockback.delivery.transports.memory import MemoryTransport
from mockback.domain.deliveries import (
    AttemptOutcome,
    CallbackType,
    Delivery,
    DeliveryRequest,
    DeliveryStatus,
)
from mockback.domain.requests import RequestSnapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def delivery(url: str) -> Delivery:
    """An http delivery to ``url``."""
    return Delivery(
        id="dlv_1",
        mock_id="m",
        namespace="sandbox",
        request_id=None,
        callback_index=0,
        callback_id=None,
        type=CallbackType.HTTP,
        target=url,
        status=DeliveryStatus.PENDING,
        created_at=T0,
        due_at=T0,
        request=DeliveryRequest(method="POST", url=url, headers=(("A", "b"),), body=b"{}"),
        timeout=0.5,
        depth=3,
    )


class Resolver:
    """Answers one address per name and counts the questions."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.asked = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked += 1
        return [self.address]


def sender(resolver: Resolver, transport: MemoryTransport, ttl: float = 5.0) -> Sender:
    """A sender with the default (closed) policy."""
    return Sender(
        transports={CallbackType.HTTP: transport},
        policy=OutboundPolicy.from_settings(allow_private=False, allowed_hosts=""),
        environ={},
        global_store=lambda ns: {},
        resolver=resolver,
        decision_ttl=ttl,
    )


async def test_checked_address_is_pinned_and_reused_briefly() -> None:
    """A name is resolved and checked once per short window; the checked address is pinned."""
    resolver, transport = Resolver("93.184.216.34"), MemoryTransport()
    s = sender(resolver, transport, ttl=0.2)
    for _ in range(3):
        result = await s.attempt(delivery("http://hooks.test/a"))
        assert result.outcome is AttemptOutcome.SUCCESS
    assert resolver.asked == 1
    message = transport.sent[0]
    assert message.options[CONNECT_IP] == "93.184.216.34"
    assert ("X-Mockback-Delivery-Id", "dlv_1") in message.headers
    assert ("X-Mockback-Callback-Depth", "3") in message.headers
    await asyncio.sleep(0.25)
    await s.attempt(delivery("http://hooks.test/b"))
    assert resolver.asked == 2


async def test_refused_address_is_blocked_naming_the_setting() -> None:
    """A name resolving to a private address is blocked, never sent."""
    transport = MemoryTransport()
    result = await sender(Resolver("10.1.2.3"), transport).attempt(delivery("http://inside.test/"))
    assert result.outcome is AttemptOutcome.BLOCKED
    assert "10.1.2.3" in (result.error or "") and "ALLOW_PROXY_TO_PRIVATE_IPS" in (
        result.error or ""
    )
    assert transport.sent == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://hooks.test/x", "not an http(s) URL"),  # another scheme
        ("http:///nohost", "not an http(s) URL"),  # no host
        ("http://hooks.test:99999/x", "not a valid URL"),  # port out of range
    ],
)
async def test_unusable_urls_are_error_attempts(url: str, says: str) -> None:
    """A URL that cannot be sent to is an error attempt with a sentence, not an exception."""
    result = await sender(Resolver("93.184.216.34"), MemoryTransport()).attempt(delivery(url))
    assert result.outcome is AttemptOutcome.ERROR and says in (result.error or "")


async def test_own_address_is_served_in_process_and_never_checked() -> None:
    """Callbacks to the server's own host:port (any loopback name) bypass policy and sockets."""
    resolver, transport = Resolver("10.0.0.1"), MemoryTransport()
    s = sender(resolver, transport)
    seen: list[RequestSnapshot] = []

    async def local(
        request: RequestSnapshot,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, float]:
        seen.append(request)
        return 201, [(b"x-a", b"b")], b"ok", 0.0

    s.serve_locally(local, "127.0.0.1", 5770)
    result = await s.attempt(delivery("http://localhost:5770/stubs/sandbox/n?q=1"))
    assert (result.outcome, result.status_code, result.response_body) == (
        AttemptOutcome.SUCCESS,
        201,
        "ok",
    )
    assert resolver.asked == 0 and transport.sent == []
    (request,) = seen
    assert (request.method, request.path, request.query_string) == (
        "POST",
        "/stubs/sandbox/n",
        "q=1",
    )
    assert request.header("x-mockback-delivery-id") == "dlv_1"


async def test_slow_local_answer_is_a_timeout() -> None:
    """An in-process answer slower than the callback's timeout is a timeout outcome."""
    s = sender(Resolver("10.0.0.1"), MemoryTransport())

    async def slow(request: RequestSnapshot) -> tuple[int, list[tuple[bytes, bytes]], bytes, float]:
        return 200, [], b"", 5.0  # the mock's own response delay

    s.serve_locally(slow, "127.0.0.1", 5770)
    result = await s.attempt(delivery("http://127.0.0.1:5770/x"))
    assert result.outcome is AttemptOutcome.TIMEOUT


def rabbit_delivery(url: str) -> Delivery:
    """A RabbitMQ delivery to the server of ``url``."""
    return dataclasses.replace(
        delivery("amqp://x"), type=CallbackType.RABBITMQ, target=url, options={"rabbitURL": url}
    )


async def test_broker_decisions_are_kept_briefly_and_refusals_too() -> None:
    """A broker address is checked once per short window, allowed or refused; the pin holds."""
    resolver, transport = Resolver("93.184.216.34"), MemoryTransport()
    s = Sender(
        transports={CallbackType.RABBITMQ: transport},
        policy=OutboundPolicy.from_settings(allow_private=False, allowed_hosts=""),
        environ={},
        global_store=lambda ns: {},
        resolver=resolver,
        decision_ttl=0.2,
    )
    for _ in range(3):
        result = await s.attempt(rabbit_delivery("amqp://u:p@mq.test/vh"))
        assert result.outcome is AttemptOutcome.SUCCESS
    assert resolver.asked == 1
    assert transport.sent[-1].options[CONNECT_IP] == "93.184.216.34"
    resolver.address = "10.0.0.7"  # the name now points inside: seen once the window ends
    await asyncio.sleep(0.25)
    for _ in range(2):
        result = await s.attempt(rabbit_delivery("amqp://u:p@mq.test/vh"))
        assert result.outcome is AttemptOutcome.BLOCKED
    assert resolver.asked == 2
    assert len(transport.sent) == 3
    # Another URL is another decision.
    await s.attempt(rabbit_delivery("amqp://u:p@other.test/vh"))
    assert resolver.asked == 3
