"""The delivery engine: runs due deliveries with a bounded pool, retries, records every attempt.

The Store is the truth: a delivery is in the database before it is handed here, and every
attempt is recorded there before the next step. In memory the engine keeps only a bounded
working set — a queue of due deliveries and a heap of scheduled ones, at most ``memory_cap``
together. Past that, it notes that the database holds more and reads them back (oldest due
first) as room frees up, so a large backlog waits in the database, not in memory. At start it
reads every unfinished delivery back the same way, which is how deliveries survive a crash.

On stop, attempts still running after a grace period are cancelled; their deliveries are not
final in the database and run again at the next start (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from mockback.delivery.retry import Backoff, RetryPolicy, next_delay
from mockback.delivery.sender import Sender
from mockback.domain.deliveries import (
    Attempt,
    AttemptOutcome,
    AttemptResult,
    Delivery,
    DeliveryStatus,
)
from mockback.logs import get_logger
from mockback.metrics import Metrics
from mockback.store.base import DeliveryQuery, DeliveryUpdate, Store

log = get_logger("mockback.delivery")

_FINAL_FOR_OUTCOME = {
    AttemptOutcome.SUCCESS: DeliveryStatus.SUCCEEDED,
    AttemptOutcome.BLOCKED: DeliveryStatus.BLOCKED,
}


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def retry_policy(delivery: Delivery) -> RetryPolicy:
    """The retry policy stored with a delivery."""
    r = delivery.retry
    return RetryPolicy(
        retry_count=int(r.get("retryCount", 0)),
        retry_delay=float(r.get("retryDelay", 1.0)),
        backoff=Backoff(r.get("backoff", "fixed")),
        max_retry_delay=float(r.get("maxRetryDelay", 300.0)),
        jitter=bool(r.get("jitter", False)),
    )


def decide(
    delivery: Delivery, result: AttemptResult, now: float, rng: random.Random | None = None
) -> tuple[DeliveryStatus, float, str | None]:
    """(new status, due time, error) after an attempt: the pure heart of retrying."""
    if result.outcome in _FINAL_FOR_OUTCOME:
        return _FINAL_FOR_OUTCOME[result.outcome], now, result.error
    if result.stop_retrying:
        return DeliveryStatus.FAILED, now, result.error
    base = int(delivery.retry.get("attemptBase", 0))
    number = delivery.attempt_count + 1 - base
    delay = next_delay(
        retry_policy(delivery), attempt_number=number, retry_after=result.retry_after, rng=rng
    )
    if delay is None:
        return DeliveryStatus.FAILED, now, result.error
    return DeliveryStatus.SCHEDULED, now + delay, result.error


class DeliveryEngine:
    """Schedules, runs and records deliveries."""

    def __init__(
        self,
        *,
        store: Store,
        sender: Sender,
        pool_size: int,
        metrics: Metrics,
        memory_cap: int = 10_000,
        poll_interval: float = 2.0,
        clock: Callable[[], float] = time.time,
        stop_grace: float = 5.0,
    ) -> None:
        self._store = store
        self._sender = sender
        self._pool_size = pool_size
        self._metrics = metrics
        self._cap = memory_cap
        self._poll_interval = poll_interval
        self._clock = clock
        self._stop_grace = stop_grace
        self._ready: deque[Delivery] = deque()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._counter = itertools.count()
        self._known: set[str] = set()  # queued, scheduled in memory, or running
        self._running: dict[str, asyncio.Task[None]] = {}
        self._overflow = True  # the database may hold deliveries not in memory
        self._wake = asyncio.Event()
        self._finished = asyncio.Condition()
        self._waiters: dict[str, list[asyncio.Future[Delivery]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._in_use = 0
        metrics.pool_size.set(pool_size)
        metrics.gauge_function(metrics.backlog, lambda: float(len(self._ready) + len(self._heap)))
        metrics.gauge_function(metrics.pool_in_use, lambda: float(self._in_use))

    # ---- lifecycle

    async def start(self) -> None:
        """Begin running deliveries (unfinished ones from before first)."""
        self._stopping = False
        self._overflow = True
        self._task = asyncio.create_task(self._dispatch(), name="mockback-delivery-dispatch")

    async def stop(self) -> None:
        """Stop taking work; let running attempts finish for a grace period, then cancel them."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        running = list(self._running.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=self._stop_grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1)
        for futures in self._waiters.values():
            for f in futures:
                if not f.done():
                    f.cancel()

    # ---- intake

    def submit(self, deliveries: list[Delivery]) -> None:
        """Hand over deliveries already stored; due ones run as soon as a worker is free."""
        now = self._clock()
        for d in deliveries:
            if d.status.is_final or d.id in self._known:
                continue
            if len(self._ready) + len(self._heap) >= self._cap:
                self._overflow = True  # it is in the database; read back when there is room
                continue
            self._queue(d, now)
        self._wake.set()

    def _queue(self, d: Delivery, now: float) -> None:
        self._known.add(d.id)
        due = d.due_at.timestamp()
        if due <= now:
            self._ready.append(d)
        else:
            heapq.heappush(self._heap, (due, next(self._counter), d))

    def completion(self, delivery_id: str) -> asyncio.Future[Delivery]:
        """A future resolved with the delivery once it is final (sync callbacks wait on it)."""
        future: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(delivery_id, []).append(future)
        return future

    async def flush(self) -> int:
        """Every scheduled delivery becomes due now."""
        now = self._clock()
        count = await self._store.flush_scheduled(_dt(now))
        while self._heap:
            _, _, d = heapq.heappop(self._heap)
            self._ready.append(replace(d, due_at=_dt(now)))
        self._wake.set()
        return count

    async def redeliver(self, delivery: Delivery) -> Delivery:
        """Send a delivery again now, with its retry policy counted afresh."""
        now = self._clock()
        reopened = replace(
            delivery,
            status=DeliveryStatus.PENDING,
            due_at=_dt(now),
            finished_at=None,
            error=None,
            retry={**delivery.retry, "attemptBase": delivery.attempt_count},
        )
        await self._store.reopen_delivery(reopened)
        if delivery.id not in self._known:
            self.submit([reopened])
        return reopened

    # ---- waiting for results

    async def wait_for(
        self, query: DeliveryQuery, count: int, timeout: float
    ) -> tuple[list[Delivery], bool]:
        """Until ``count`` deliveries matching the query have ended; (items, complete)."""
        deadline = time.monotonic() + timeout
        statuses = query.statuses or tuple(s for s in DeliveryStatus if s.is_final)
        q = replace(query, statuses=statuses, limit=max(count, 1), offset=0)
        while True:
            items, total = await self._store.list_deliveries(q)
            if total >= count:
                return items[:count], True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return items, False
            async with self._finished:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._finished.wait(), timeout=min(remaining, 0.5))

    # ---- the loop

    async def _dispatch(self) -> None:
        while not self._stopping:
            try:
                await self._refill()
            except Exception:
                log.error("Delivery queue refill failed", traceback=traceback.format_exc())
            now = self._clock()
            while self._heap and self._heap[0][0] <= now:
                _, _, d = heapq.heappop(self._heap)
                self._ready.append(d)
            while self._ready and self._in_use < self._pool_size:
                d = self._ready.popleft()
                self._in_use += 1
                self._running[d.id] = asyncio.create_task(self._run(d), name=f"delivery {d.id}")
            self._wake.clear()
            timeout = self._poll_interval
            if self._heap:
                timeout = min(timeout, max(0.0, self._heap[0][0] - self._clock()))
            if self._ready and self._in_use < self._pool_size:
                timeout = 0
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except TimeoutError:
                self._overflow = True  # periodic look at the database (flushes, other writers)

    async def _refill(self) -> None:
        room = self._cap - len(self._ready) - len(self._heap)
        if not self._overflow or room <= self._cap // 4:
            return
        rows = await self._store.unfinished_deliveries(
            due_before=None, limit=room, exclude=frozenset(self._known)
        )
        now = self._clock()
        for d in rows:
            if d.id not in self._known:
                self._queue(d, now)
        if len(rows) < room:
            self._overflow = False

    async def _run(self, delivery: Delivery) -> None:
        try:
            try:
                result = await self._sender.attempt(delivery)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error(
                    "Unexpected error in callback delivery",
                    delivery_id=delivery.id,
                    mock_id=delivery.mock_id,
                    callback_type=delivery.type.value,
                    attempt=delivery.attempt_count + 1,
                    target=delivery.target,
                    error=repr(exc),
                    traceback=traceback.format_exc(),
                )
                result = AttemptResult(
                    outcome=AttemptOutcome.ERROR,
                    duration_ms=0.0,
                    error=f"unexpected error: {exc!r}",
                )
            finally:
                self._in_use -= 1
                self._wake.set()
            await self._record(delivery, result)
        except asyncio.CancelledError:
            pass  # stopping: the delivery stays unfinished in the database
        finally:
            self._running.pop(delivery.id, None)

    async def _record(self, delivery: Delivery, result: AttemptResult) -> None:
        now = self._clock()
        number = delivery.attempt_count + 1
        status, due, error = decide(delivery, result, now)
        attempt = Attempt(
            number=number,
            started_at=_dt(now - result.duration_ms / 1000),
            duration_ms=round(result.duration_ms, 3),
            outcome=result.outcome,
            status_code=result.status_code,
            error=result.error,
            response_headers=result.response_headers,
            response_body=result.response_body,
            truncated=result.truncated,
        )
        final = status.is_final
        updated = replace(
            delivery,
            status=status,
            due_at=_dt(due),
            finished_at=_dt(now) if final else None,
            attempt_count=number,
            error=error if status is not DeliveryStatus.SUCCEEDED else None,
            attempts=(),
        )
        await self._store.update_deliveries(
            [
                DeliveryUpdate(
                    delivery_id=delivery.id,
                    status=status,
                    due_at=updated.due_at,
                    finished_at=updated.finished_at,
                    attempt_count=number,
                    error=updated.error,
                    attempt=attempt,
                )
            ]
        )
        self._log(updated, result, number)
        self._metrics.attempt(delivery.type.value, result.outcome.value, result.duration_ms / 1000)
        if final:
            self._known.discard(delivery.id)
            self._metrics.delivery_ended(delivery.type.value, status.value)
            self._resolve(replace(updated, attempts=(*delivery.attempts, attempt)))
            async with self._finished:
                self._finished.notify_all()
        elif not self._stopping:
            heapq.heappush(self._heap, (due, next(self._counter), updated))
            self._wake.set()
        else:
            self._known.discard(delivery.id)

    def _resolve(self, delivery: Delivery) -> None:
        for future in self._waiters.pop(delivery.id, []):
            if not future.done():
                future.set_result(delivery)

    @staticmethod
    def _log(delivery: Delivery, result: AttemptResult, number: int) -> None:
        fields: dict[str, Any] = {
            "delivery_id": delivery.id,
            "mock_id": delivery.mock_id,
            "callback_type": delivery.type.value,
            "attempt": number,
            "target": delivery.target,
            "status_code": result.status_code,
            "duration_ms": round(result.duration_ms, 3),
        }
        if result.outcome is AttemptOutcome.SUCCESS:
            log.info("Callback executed successfully", **fields)
            return
        log.warning(
            "Callback attempt failed", outcome=result.outcome.value, error=result.error, **fields
        )
        if delivery.status is DeliveryStatus.FAILED:
            log.error("Callback failed after all retries", error=result.error, **fields)
        elif delivery.status is DeliveryStatus.BLOCKED:
            log.error("Callback blocked by the outbound policy", error=result.error, **fields)
