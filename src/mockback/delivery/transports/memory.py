"""An in-memory transport: records what would be sent and answers from a script.

The delivery engine's tests run against it without sockets: queue the results the "target"
gives (``script``), or answer with a function of the message (``respond_with``); with neither,
every attempt succeeds. ``wait_for`` waits until enough messages were sent.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable

from mockback.domain.deliveries import (
    AttemptOutcome,
    AttemptResult,
    CallbackType,
    OutboundMessage,
)

# A scripted step: a result to return, or an exception to raise (to test unexpected errors).
Step = AttemptResult | BaseException
Responder = Callable[[OutboundMessage], AttemptResult | Awaitable[AttemptResult]]


def success_for(message: OutboundMessage) -> AttemptResult:
    """The default answer: success, with status 200 for HTTP."""
    status = 200 if message.type is CallbackType.HTTP else None
    return AttemptResult(outcome=AttemptOutcome.SUCCESS, duration_ms=0.0, status_code=status)


class MemoryTransport:
    """Records every message sent; answers from the script, then the responder."""

    def __init__(self, responder: Responder | None = None) -> None:
        self._responder: Responder = responder or success_for
        self._script: deque[Step] = deque()
        self._sent: list[OutboundMessage] = []
        self._changed = asyncio.Event()
        self.closed = False  # close() was called

    @property
    def sent(self) -> list[OutboundMessage]:
        """A copy of the messages sent so far, in order."""
        return list(self._sent)

    def script(self, *steps: Step) -> None:
        """Queue answers for the next attempts, in order; they come before the responder's."""
        self._script.extend(steps)

    def respond_with(self, responder: Responder) -> None:
        """Answer attempts that the script does not cover with ``responder(message)``."""
        self._responder = responder

    async def send(self, message: OutboundMessage) -> AttemptResult:
        """Record the message and answer it."""
        if self.closed:
            raise RuntimeError("the memory transport is closed")
        self._sent.append(message)
        self._changed.set()
        if self._script:
            step = self._script.popleft()
            if isinstance(step, BaseException):
                raise step
            return step
        answer = self._responder(message)
        if inspect.isawaitable(answer):
            return await answer
        return answer

    async def close(self) -> None:
        """Mark the transport closed; later sends are a bug and raise."""
        self.closed = True

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[OutboundMessage]:
        """The first ``count`` messages, once sent; AssertionError after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self._sent) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self._shortfall(count, timeout))
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                raise AssertionError(self._shortfall(count, timeout)) from None
        return self._sent[:count]

    def _shortfall(self, count: int, timeout: float) -> str:
        seen = "".join(f"\n  {m.type.value} {m.method} {m.target}" for m in self._sent)
        return (
            f"expected {count} message(s) within {timeout:g} s, "
            f"got {len(self._sent)}:{seen or ' none'}"
        )
