"""The engine's working set: deliveries due now, deliveries due later, and idle workers.

Due deliveries go straight to an idle worker when there is one, else into a queue; later ones
wait in a heap ordered by due time, with one timer armed for the earliest. Everything here is
in memory and bounded by the engine (the store holds the rest).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from mockback.domain.deliveries import Delivery


class Worklist:
    """Ready queue, schedule heap and idle workers, driven by one timer."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._counter = itertools.count()
        self._ready: deque[Delivery] = deque()  # due, waiting for a worker
        self._heap: list[tuple[float, int, Delivery]] = []  # (due, tie-break, delivery)
        self._idle: deque[asyncio.Future[Delivery]] = deque()  # workers waiting for work
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def held(self) -> int:
        """Deliveries waiting here (due now or later)."""
        return len(self._ready) + len(self._heap)

    @property
    def ready(self) -> int:
        """Deliveries due now, waiting for a worker."""
        return len(self._ready)

    @property
    def scheduled(self) -> int:
        """Deliveries due later."""
        return len(self._heap)

    def add(self, d: Delivery, due: float, now: float) -> None:
        """Hold a delivery due at ``due`` (epoch seconds)."""
        if due <= now:
            self._make_ready(d)
            return
        heapq.heappush(self._heap, (due, next(self._counter), d))
        if self._heap[0][2] is d:
            self._arm()

    async def next(self) -> Delivery:
        """The next due delivery, waiting for one if none is."""
        if self._ready:
            return self._ready.popleft()
        idle: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        self._idle.append(idle)
        return await idle

    def all_due(self, now: datetime) -> None:
        """Everything scheduled becomes due now (flush)."""
        heap, self._heap = self._heap, []
        for _, _, d in sorted(heap):
            self._make_ready(replace(d, due_at=now))
        self._arm()

    def close(self) -> None:
        """Stop the timer and wake idle workers with CancelledError; forget everything."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for idle in self._idle:
            idle.cancel()
        self._idle.clear()
        self._ready.clear()
        self._heap.clear()

    def _make_ready(self, d: Delivery) -> None:
        while self._idle:
            worker = self._idle.popleft()
            if not worker.done():
                worker.set_result(d)
                return
        self._ready.append(d)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._heap and not self._closed:
            delay = max(0.0, self._heap[0][0] - self._clock())
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            _, _, d = heapq.heappop(self._heap)
            self._make_ready(d)
        self._arm()
