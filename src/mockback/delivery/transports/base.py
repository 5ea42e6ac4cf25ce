"""The Transport seam: one rendered message in, one attempt result out.

A transport sends an ``OutboundMessage`` exactly as rendered and reports how the attempt went.
The target's faults (refusals, timeouts, bad answers) are outcomes, never exceptions; an
exception from ``send`` means a bug or a cancelled task, and the worker treats it as such.
Implementations: ``http`` (asyncio + httptools), ``memory`` (tests); Kafka and RabbitMQ follow the same shape.
"""

from __future__ import annotations

import time
from typing import Protocol

from mockback.domain.deliveries import AttemptResult, OutboundMessage


class Transport(Protocol):
    """Sends rendered callbacks of one type; shared by all workers of a process."""

    async def send(self, message: OutboundMessage) -> AttemptResult:
        """Make one attempt; the target's faults come back as outcomes, never as exceptions."""
        ...

    async def close(self) -> None:
        """Release pooled connections; the transport is not used afterwards."""
        ...


class Stopwatch:
    """Measures one attempt's wall time on a monotonic clock."""

    __slots__ = ("_started",)

    def __init__(self) -> None:
        self._started = time.perf_counter()

    def elapsed_ms(self) -> float:
        """Milliseconds since the stopwatch was made."""
        return (time.perf_counter() - self._started) * 1000.0
