"""The in-memory transport: recording, scripted answers, responders, waiting."""

from __future__ import annotations

import asyncio
import time

import pytest

from mockback.delivery.transports.base import Stopwatch, Transport
from mockback.delivery.transports.memory import MemoryTransport, success_for
from mockback.domain.deliveries import (
    AttemptOutcome,
    AttemptResult,
    CallbackType,
    OutboundMessage,
)


def message(
    target: str = "http://hooks.test/a",
    *,
    kind: CallbackType = CallbackType.HTTP,
    body: bytes = b"",
) -> OutboundMessage:
    return OutboundMessage(delivery_id="dlv_1", type=kind, target=target, body=body)


def failure(status: int) -> AttemptResult:
    return AttemptResult(outcome=AttemptOutcome.FAILURE, duration_ms=1.0, status_code=status)


async def test_is_a_transport() -> None:
    """MemoryTransport fits the Transport seam."""
    transport: Transport = MemoryTransport()
    await transport.close()


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (CallbackType.HTTP, 200),  # HTTP success carries a status
        (CallbackType.KAFKA, None),  # a broker acknowledgement has none
        (CallbackType.RABBITMQ, None),  # nor does a publisher confirm
    ],
)
async def test_default_answer_is_success(kind: CallbackType, status: int | None) -> None:
    """Without a script every attempt succeeds."""
    transport = MemoryTransport()
    result = await transport.send(message(kind=kind))
    assert result.outcome is AttemptOutcome.SUCCESS
    assert result.status_code == status


async def test_records_messages_in_order() -> None:
    """Every message sent is recorded, in order, whatever the answer."""
    transport = MemoryTransport()
    transport.script(failure(500))
    first, second = message("http://a.test/"), message("http://b.test/", body=b"x")
    await transport.send(first)
    await transport.send(second)
    assert transport.sent == [first, second]


async def test_sent_is_a_copy() -> None:
    """Changing the returned list does not change the record."""
    transport = MemoryTransport()
    await transport.send(message())
    transport.sent.clear()
    assert len(transport.sent) == 1


async def test_script_then_responder() -> None:
    """Scripted results come first, in order; then the responder answers."""
    transport = MemoryTransport()
    transport.script(failure(500), failure(503))
    outcomes = [(await transport.send(message())).status_code for _ in range(3)]
    assert outcomes == [500, 503, 200]


async def test_scripted_exception_is_raised() -> None:
    """A scripted exception is raised from send, to test a worker's handling of bugs."""
    transport = MemoryTransport()
    transport.script(RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        await transport.send(message())
    assert len(transport.sent) == 1


async def test_responder_sees_the_message() -> None:
    """A responder answers from the message, e.g. by target."""

    def by_target(m: OutboundMessage) -> AttemptResult:
        return failure(404) if m.target.endswith("/missing") else success_for(m)

    transport = MemoryTransport(by_target)
    assert (await transport.send(message("http://h.test/missing"))).status_code == 404
    assert (await transport.send(message("http://h.test/ok"))).status_code == 200


async def test_async_responder() -> None:
    """A responder may be a coroutine function, e.g. to simulate a slow target."""

    async def slow(m: OutboundMessage) -> AttemptResult:
        watch = Stopwatch()
        await asyncio.sleep(0.05)
        return AttemptResult(outcome=AttemptOutcome.TIMEOUT, duration_ms=watch.elapsed_ms())

    transport = MemoryTransport()
    transport.respond_with(slow)
    result = await transport.send(message())
    assert result.outcome is AttemptOutcome.TIMEOUT
    assert result.duration_ms >= 40


async def test_wait_for_returns_once_enough_were_sent() -> None:
    """wait_for wakes when the awaited number of messages has been sent."""
    transport = MemoryTransport()

    async def send_later() -> None:
        for index in range(3):
            await asyncio.sleep(0.01)
            await transport.send(message(f"http://h.test/{index}"))

    task = asyncio.ensure_future(send_later())
    sent = await transport.wait_for(2, timeout=2)
    assert [m.target for m in sent] == ["http://h.test/0", "http://h.test/1"]
    await task


async def test_wait_for_timeout_says_what_was_sent() -> None:
    """On timeout wait_for fails with a message listing what was sent."""
    transport = MemoryTransport()
    await transport.send(message("http://h.test/only"))
    with pytest.raises(
        AssertionError, match=r"expected 2 message\(s\).*got 1:\n  http POST http://h.test/only"
    ):
        await transport.wait_for(2, timeout=0.05)


async def test_send_after_close_is_a_bug() -> None:
    """A closed transport refuses to send."""
    transport = MemoryTransport()
    await transport.close()
    assert transport.closed
    with pytest.raises(RuntimeError, match="closed"):
        await transport.send(message())


def test_stopwatch_measures_milliseconds() -> None:
    """The stopwatch reports the milliseconds elapsed since it was made, growing."""
    watch = Stopwatch()
    first = watch.elapsed_ms()
    time.sleep(0.02)
    second = watch.elapsed_ms()
    assert 0 <= first < second
    assert 15 <= second - first < 1000
