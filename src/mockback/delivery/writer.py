"""Writing deliveries to the store in batches: new ones and attempt results, one commit for both.

New deliveries (a served request waits until they are durable) and the results of attempts
(no one waits, but sync callers and waiters are told once they are committed) go through one
writer. While a write is being committed, everything that arrives meanwhile waits and goes
together in the next ``Store.write_deliveries`` call: a busy server makes one transaction, and
one disk flush, for many requests and many results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mockback.domain.deliveries import Delivery
from mockback.store.base import DeliveryUpdate, Store

Committed = Callable[[list[DeliveryUpdate], BaseException | None], None]
"""Told which results were written (or the error that kept them out)."""


class DeliveryWriter:
    """Batches delivery writes; one write in flight at a time."""

    def __init__(self, store: Store, on_results: Committed) -> None:
        self._store = store
        self._on_results = on_results
        self._new: list[tuple[list[Delivery], asyncio.Future[None]]] = []
        self._results: list[DeliveryUpdate] = []
        self._task: asyncio.Task[None] | None = None

    def insert(self, deliveries: list[Delivery]) -> asyncio.Future[None]:
        """Queue new deliveries now; the future is done once they are durable."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._new.append((deliveries, done))
        self._kick()
        return done

    def record(self, update: DeliveryUpdate) -> None:
        """Queue an attempt's result; ``on_results`` hears when it is committed."""
        self._results.append(update)
        self._kick()

    @property
    def pending(self) -> int:
        """Writes not yet committed."""
        return len(self._new) + len(self._results)

    async def drain(self) -> None:
        """Until everything queued so far is written."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    def _kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._new or self._results:
            new, self._new = self._new, []
            results, self._results = self._results, []
            try:
                await self._store.write_deliveries([d for ds, _ in new for d in ds], results)
            except Exception:
                await self._one_by_one(new, results)
                continue
            for _, done in new:
                _settle(done, None)
            self._on_results(results, None)

    async def _one_by_one(
        self,
        new: list[tuple[list[Delivery], asyncio.Future[None]]],
        results: list[DeliveryUpdate],
    ) -> None:
        # One caller's bad row must not fail the others: each part goes again alone.
        for deliveries, done in new:
            try:
                await self._store.write_deliveries(deliveries, [])
            except Exception as alone:
                _settle(done, alone)
            else:
                _settle(done, None)
        if results:
            try:
                await self._store.write_deliveries([], results)
            except Exception as failed:
                self._on_results(results, failed)
            else:
                self._on_results(results, None)


def _settle(done: asyncio.Future[None], exc: BaseException | None) -> None:
    if done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)
