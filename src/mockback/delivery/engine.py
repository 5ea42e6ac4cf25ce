"""The delivery engine: runs due deliveries on a bounded pool, retries, records every attempt.

The Store is the truth: a delivery is stored before it is handed here, and every attempt is
written there. In memory the engine keeps a bounded working set: a queue of due deliveries and
a heap of scheduled ones, at most ``memory_cap`` together. Past that it notes that the store
holds more (``overflow``) and reads them back, oldest due first, as room frees up; at start it
reads every unfinished delivery back the same way, which is how deliveries survive a crash.

``pool_size`` workers make attempts, so no more than that many run at once. A worker hands the
attempt's result to the writer and takes the next delivery at once. The writer batches new
deliveries (``accept``) and results together: one store call, one commit, for everything that
came in while the previous one was committing, so neither the pool nor the served requests
move at the disk's pace one by one. A delivery counts as settled once its final state is
committed; only then are sync callers and waiters told.

On stop, running attempts get a grace period and are then cancelled; a delivery whose final
state was not committed stays unfinished in the store and runs again at the next start
(at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from mockback.delivery.outcomes import (
    attempt_of,
    decide,
    log_attempt,
    log_unexpected,
    unexpected_result,
)
from mockback.delivery.sequences import is_waiting
from mockback.delivery.worklist import Worklist
from mockback.delivery.writer import DeliveryWriter
from mockback.domain.deliveries import AttemptResult, Delivery, DeliveryStatus
from mockback.domain.errors import Conflict
from mockback.logs import get_logger
from mockback.metrics import Metrics
from mockback.store.base import DeliveryQuery, DeliveryUpdate, Store

log = get_logger("mockback.delivery")

_FINAL_STATUSES = tuple(s for s in DeliveryStatus if s.is_final)


Release = Callable[[Delivery, list[Delivery], float], Delivery | None]
"""What a waiting delivery becomes given its request's deliveries (None: it waits on)."""


class AttemptMaker(Protocol):
    """Makes one attempt of a delivery (the Sender); never raises for a target's faults."""

    async def attempt(self, delivery: Delivery) -> AttemptResult:
        """One attempt."""
        ...


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _with_state(d: Delivery, u: DeliveryUpdate) -> Delivery:
    """The delivery with the state an update recorded."""
    return replace(
        d,
        status=u.status,
        due_at=u.due_at,
        finished_at=u.finished_at,
        attempt_count=u.attempt_count,
        error=u.error,
    )


class DeliveryEngine:
    """Schedules, runs and records deliveries."""

    def __init__(
        self,
        *,
        store: Store,
        sender: AttemptMaker,
        pool_size: int,
        metrics: Metrics,
        memory_cap: int = 10_000,
        poll_interval: float = 5.0,
        clock: Callable[[], float] = time.time,
        stop_grace: float = 5.0,
        rng: random.Random | None = None,
        release: Release | None = None,
    ) -> None:
        if pool_size < 1 or memory_cap < 1:
            raise ValueError("pool_size and memory_cap must be at least 1")
        self._store = store
        self._sender = sender
        self._pool_size = pool_size
        self._metrics = metrics
        self._cap = memory_cap
        self._poll_interval = poll_interval
        self._clock = clock
        self._stop_grace = stop_grace
        self._rng = rng
        self._release = release
        self._waiters: dict[str, list[asyncio.Future[Delivery]]] = {}
        self._settled = asyncio.Event()  # replaced (after being set) whenever one settles
        self._watchers = 0  # wait_for calls listening to _settled
        self._stopping = True
        self._in_use = 0
        self._writer = DeliveryWriter(store, self._committed)
        self._reset()
        metrics.pool_size.set(pool_size)
        metrics.gauge_function(metrics.pool_in_use, lambda: float(self._in_use))

    def _reset(self) -> None:
        self._work_list = Worklist(self._clock)
        self._known: set[str] = set()  # ids in memory: ready, scheduled, running or being written
        self._running: set[str] = set()  # ids with an attempt under way
        self._workers: list[asyncio.Task[None]] = []
        self._writing: dict[str, Delivery] = {}  # ids whose final result is being written
        self._poller: asyncio.TimerHandle | None = None
        self._overflow = True  # the store may hold unfinished deliveries not in memory
        self._refiller: asyncio.Task[None] | None = None
        self._settled_during_refill: set[str] | None = None  # settled while a read was under way
        self._waiting: dict[str, set[str]] = {}  # request id -> its deliveries waiting for others
        self._to_resolve: set[str] = set()  # request ids whose waiting deliveries to look at
        self._resolver: asyncio.Task[None] | None = None

    # ---- lifecycle

    async def start(self) -> None:
        """Read back unfinished deliveries, then start the workers."""
        self._reset()
        self._stopping = False
        loop = asyncio.get_running_loop()
        await self._refill()
        self._workers = [
            loop.create_task(self._work(), name=f"mockback-delivery-worker-{i}")
            for i in range(self._pool_size)
        ]
        self._poller = loop.call_later(self._poll_interval, self._poll)

    async def stop(self) -> None:
        """Stop taking work; give running attempts a grace period, then cancel them."""
        if self._stopping:
            return
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
        self._work_list.close()
        if self._refiller is not None:
            self._refiller.cancel()
        if self._resolver is not None:
            self._resolver.cancel()
        workers = self._workers
        if workers:
            _, late = await asyncio.wait(workers, timeout=self._stop_grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1)
        await self._writer.drain()
        for futures in self._waiters.values():
            for f in futures:
                f.cancel()
        self._waiters.clear()
        self._reset()

    # ---- intake

    async def accept(self, deliveries: list[Delivery]) -> list[asyncio.Future[Delivery]]:
        """Store new deliveries (durable on return) and take them over.

        Returns a future per sync delivery, resolved once it has ended. Attempts may start
        while the write is being committed: the caller answers only once it is durable, and
        an attempt's result is written after the delivery itself. Concurrent callers share
        one write with each other and with attempt results. If the write fails the caller
        gets the error (its response fails); an attempt already made is not taken back.
        """
        ends = [self.completion(d.id) for d in deliveries if d.sync and not d.status.is_final]
        # Handed to the workers first, so the first attempt goes out while the write commits;
        # its result is queued behind this insert whatever happens first.
        left = self._take(deliveries)
        stored = self._writer.insert(deliveries)
        try:
            await stored
        except BaseException:
            for d in deliveries:
                for future in self._waiters.pop(d.id, ()):
                    future.cancel()
            raise
        if left:
            # Only now are they in the store for a read to find.
            self._overflow = True
            self._want_refill()
        if self._waiting:
            self._want_resolve({d.request_id for d in deliveries if d.request_id in self._waiting})
        return ends

    def submit(self, deliveries: list[Delivery]) -> None:
        """Hand over deliveries already stored; due ones start as soon as a worker is free."""
        if self._take(deliveries):
            self._overflow = True
        self._want_resolve({d.request_id for d in deliveries if d.request_id in self._waiting})

    def _take(self, deliveries: list[Delivery]) -> bool:
        """Hold what fits in memory; whether some were left to the store."""
        now = self._clock()
        left = False
        for d in deliveries:
            if d.status.is_final:
                self._metrics.delivery_ended(d.type, d.status)
                self._notify()
                continue
            if self._stopping or d.id in self._known:
                continue
            if is_waiting(d):
                self._wait(d)
                continue
            # A sync caller is waiting for this one: it never waits behind the store.
            if not d.sync and self._work_list.held >= self._cap:
                left = True
                continue
            self._hold(d, now)
        return left

    def completion(self, delivery_id: str) -> asyncio.Future[Delivery]:
        """A future resolved with the delivery once it is final (sync callbacks wait on it)."""
        future: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        if self._stopping:
            future.cancel()
        else:
            self._waiters.setdefault(delivery_id, []).append(future)
        return future

    def is_running(self, delivery_id: str) -> bool:
        """Whether an attempt of this delivery is under way now."""
        return delivery_id in self._running

    async def flush(self) -> int:
        """Every scheduled delivery becomes due now; how many were scheduled."""
        now = self._clock()
        count = await self._store.flush_scheduled(_dt(now))
        self._work_list.all_due(_dt(now))
        self._overflow = True
        self._want_refill()
        return count

    async def redeliver(self, delivery: Delivery) -> Delivery:
        """Run an ended delivery again now (same id), its retry policy counted afresh."""
        if not delivery.status.is_final or delivery.id in self._known:
            raise Conflict(
                f'Delivery "{delivery.id}" has not ended ({delivery.status.value}); '
                "it will be attempted without a redelivery."
            )
        reopened = replace(
            delivery,
            status=DeliveryStatus.PENDING,
            due_at=_dt(self._clock()),
            finished_at=None,
            error=None,
            retry={**delivery.retry, "attemptBase": delivery.attempt_count},
            attempts=(),
        )
        await self._store.reopen_delivery(reopened)
        self.submit([reopened])
        return reopened

    async def backlog(self) -> int:
        """Deliveries waiting to be attempted (due, scheduled or waiting for others), counted in
        the store: past the memory cap most of the backlog is there, not in memory."""
        unfinished = await self._store.count_unfinished()
        # Running attempts, and ended ones whose final state is still being written, are not
        # waiting; new deliveries still being written are not counted yet (one batch at most).
        return max(0, unfinished - len(self._running) - len(self._writing))

    async def wait_for(
        self, query: DeliveryQuery, count: int, timeout: float
    ) -> tuple[list[Delivery], bool]:
        """Until ``count`` deliveries matching the query have ended; (items, complete)."""
        deadline = time.monotonic() + timeout
        statuses = query.statuses or _FINAL_STATUSES
        q = replace(query, statuses=statuses, limit=max(count, 1), offset=0)
        self._watchers += 1
        try:
            while True:
                settled = self._settled
                items, total = await self._store.list_deliveries(q)
                if total >= count:
                    return items[:count], True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return items, False
                # Statuses that are not final are not announced: look again now and then.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(settled.wait(), timeout=min(remaining, 0.5))
        finally:
            self._watchers -= 1

    # ---- the working set and the store behind it

    def _hold(self, d: Delivery, now: float) -> None:
        self._known.add(d.id)
        self._work_list.add(d, d.due_at.timestamp(), now)

    def _poll(self) -> None:
        # A periodic look at the store: a safety net for rows that reached it any other way.
        self._overflow = True
        self._want_refill()
        self._poller = asyncio.get_running_loop().call_later(self._poll_interval, self._poll)

    def _want_refill(self) -> None:
        if self._stopping or not self._overflow:
            return
        if self._refiller is None or self._refiller.done():
            self._refiller = asyncio.get_running_loop().create_task(self._refill())

    async def _refill(self) -> None:
        while self._overflow and not self._stopping:
            held = self._work_list.held
            room = self._cap - held
            if held and room <= self._cap // 4:
                return  # read in large steps, not one row per finished delivery
            # Cleared before the read: a delivery turned away during it sets it again.
            self._overflow = False
            self._settled_during_refill = set()
            try:
                rows = await self._store.unfinished_deliveries(
                    due_before=None, limit=room, exclude=frozenset(self._known | self._parked())
                )
            except Exception as exc:
                self._overflow = True
                log_unexpected(log, "Reading unfinished deliveries failed", exc)
                return
            finally:
                settled, self._settled_during_refill = self._settled_during_refill, None
            now = self._clock()
            for d in rows:
                # Rows read before a result was committed are stale for deliveries since settled.
                if d.id not in self._known and d.id not in settled and not self._stopping:
                    if is_waiting(d):
                        self._wait(d)
                        self._want_resolve({d.request_id})
                    else:
                        self._hold(d, now)
            if len(rows) >= room:
                self._overflow = True
                return

    # ---- workers and writes

    async def _work(self) -> None:
        while not self._stopping:
            try:
                d = await self._work_list.next()
            except asyncio.CancelledError:
                return
            self._in_use += 1
            self._running.add(d.id)
            try:
                result = await self._sender.attempt(d)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_unexpected(log, "Unexpected error in callback delivery", exc, delivery=d)
                result = unexpected_result(exc)
            finally:
                self._in_use -= 1
                self._running.discard(d.id)
            self._record(d, result)

    def _record(self, d: Delivery, result: AttemptResult) -> None:
        now = self._clock()
        status, due, error = decide(d, result, now, self._rng)
        number = d.attempt_count + 1
        final = status.is_final
        due_at = _dt(due)
        update = DeliveryUpdate(
            delivery_id=d.id,
            status=status,
            due_at=due_at,
            finished_at=due_at if final else None,
            attempt_count=number,
            error=error,
            attempt=attempt_of(result, number=number, ended=now),
        )
        log_attempt(log, d, status, result, number, retry_in=due - now)
        self._metrics.attempt(d.type, result.outcome, result.duration_ms / 1000)
        if not final and not self._stopping:
            # Writes are applied in order, so the next attempt's result lands after this one.
            again = replace(d, status=status, due_at=due_at, attempt_count=number, error=error)
            self._work_list.add(again, due, now)
        if final:
            self._writing[d.id] = d
        self._writer.record(update)

    def _committed(self, updates: list[DeliveryUpdate], error: BaseException | None) -> None:
        if error is not None:
            log_unexpected(log, "Recording delivery attempts failed", error)
            # Still unfinished in the store: they come back through a later read.
            self._overflow = True
        for u in updates:
            d = self._writing.pop(u.delivery_id, None) if u.status.is_final else None
            if d is None:
                continue
            self._forget(d.id)
            if error is not None:
                continue
            self._ended(d, u)
        self._notify()
        self._want_refill()

    def _ended(self, d: Delivery, final: DeliveryUpdate | None = None) -> None:
        """A delivery's final state is committed: count it, tell its waiters and dependents.

        ``final`` is that state when ``d`` is the delivery as it was before its last attempt;
        the ended delivery is only built for someone waiting for it (most have no one).
        """
        status = d.status if final is None else final.status
        self._metrics.delivery_ended(d.type, status)
        waiters = self._waiters.pop(d.id, ())
        if waiters:
            ended = d if final is None else _with_state(d, final)
            for future in waiters:
                if not future.done():
                    future.set_result(ended)
        if d.request_id in self._waiting:
            self._want_resolve({d.request_id})

    # ---- sequences: deliveries waiting for others of the same request

    def _wait(self, d: Delivery) -> None:
        self._waiting.setdefault(d.request_id or "", set()).add(d.id)

    def _parked(self) -> set[str]:
        return {i for ids in self._waiting.values() for i in ids}

    def _want_resolve(self, request_ids: set[str | None]) -> None:
        self._to_resolve.update(r for r in request_ids if r is not None)
        if self._stopping or not self._to_resolve:
            return
        if self._resolver is None or self._resolver.done():
            self._resolver = asyncio.get_running_loop().create_task(self._resolve_all())

    async def _resolve_all(self) -> None:
        # One at a time: a waiting delivery is released once, by one reader of the store.
        while self._to_resolve and not self._stopping:
            request_id = self._to_resolve.pop()
            try:
                await self._resolve(request_id)
            except Exception as exc:
                log_unexpected(log, "Releasing dependent callbacks failed", exc)
                # Stays waiting in the store; the next poll looks again.
                self._waiting.pop(request_id, None)

    async def _resolve(self, request_id: str) -> None:
        """Release or cancel the request's waiting deliveries whose dependencies have ended."""
        while not self._stopping:
            query = DeliveryQuery(request_id=request_id, limit=10_000)
            items, _ = await self._store.list_deliveries(query)
            siblings = []
            for item in items:
                full = await self._store.get_delivery(item.id) if item.status.is_final else None
                siblings.append(full or item)
            waiting = [d for d in siblings if is_waiting(d)]
            self._waiting[request_id] = {d.id for d in waiting}
            progressed = False
            now = self._clock()
            for d in waiting:
                new = (
                    self._release(d, siblings, now)
                    if self._release is not None
                    else replace(
                        d,
                        status=DeliveryStatus.CANCELLED,
                        due_at=_dt(now),
                        finished_at=_dt(now),
                        error="callback sequences are not available",
                    )
                )
                if new is None or self._stopping:
                    continue
                await self._store.release_delivery(new)
                self._waiting[request_id].discard(d.id)
                if new.status.is_final:
                    progressed = True
                    self._ended(new)
                    self._notify()
                elif new.id not in self._known:
                    self._hold(new, self._clock())
            if not self._waiting[request_id]:
                del self._waiting[request_id]
            if not progressed:
                return

    def _forget(self, delivery_id: str) -> None:
        self._known.discard(delivery_id)
        if self._settled_during_refill is not None:
            self._settled_during_refill.add(delivery_id)

    def _notify(self) -> None:
        if self._watchers:
            settled, self._settled = self._settled, asyncio.Event()
            settled.set()

    def snapshot(self) -> dict[str, Any]:
        """Counts of the working set, for diagnostics and tests."""
        return {
            "ready": self._work_list.ready,
            "scheduled": self._work_list.scheduled,
            "running": len(self._running),
            "known": len(self._known),
            "overflow": self._overflow,
            "writes": self._writer.pending,
        }
