"""Long-lived broker clients keyed by configuration: opened once, shared, closed when idle.

A Kafka producer or an AMQP connection is expensive to open and cheap to reuse, so the broker
transports keep one per configuration (brokers, credentials, TLS). ``lease`` hands out the
client for a key, opening it on first use; concurrent first uses share one opening. A client
that failed (its broker went away) is ``retire``d: new leases get a fresh one, and the old one is
closed once the attempts still using it are done. Clients unused for ``idle_after`` seconds are
closed by a sweep that runs every ``sweep_every`` seconds (or when ``close_idle`` is called).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from mockback.logs import get_logger

K = TypeVar("K", bound=Hashable)
C = TypeVar("C")

log = get_logger("mockback.delivery")


class _Entry(Generic[C]):
    """One pooled client, from its opening to its closing."""

    __slots__ = ("last_used", "leases", "opening", "retired")

    def __init__(self, opening: asyncio.Task[C], now: float) -> None:
        self.opening = opening  # resolves to the client
        self.leases = 0  # attempts using it now
        self.last_used = now  # clock time the last lease ended
        self.retired = False  # closes when the last lease ends


class Lease(Generic[C]):
    """The right to use one pooled client for one attempt."""

    __slots__ = ("_entry", "_pool", "client")

    def __init__(self, pool: ClientPool[K, C], entry: _Entry[C], client: C) -> None:
        self._pool = pool
        self._entry = entry
        self.client = client  # the opened client

    def retire(self) -> None:
        """The client is broken: no new lease gets it; it closes after the last one ends.

        Safe to call after the lease has ended.
        """
        self._pool._retire(self._entry)


class _Leasing(Generic[K, C]):
    """One ``async with pool.lease(...)``: a class, not a generator, as it runs per message."""

    __slots__ = ("_entry", "_key", "_pool", "_timeout")

    def __init__(self, pool: ClientPool[K, C], key: K, timeout: float) -> None:
        self._pool = pool
        self._key = key
        self._timeout = timeout
        self._entry: _Entry[C] | None = None

    async def __aenter__(self) -> Lease[C]:
        pool = self._pool
        entry = self._entry = pool._acquire(self._key, self._timeout)
        try:
            if entry.opening.done():
                client = entry.opening.result()  # the common case: no waiting, no extra future
            else:
                # shield: an attempt that gives up (its timeout) must not cancel a shared opening,
                # which may have been started by an attempt with a longer timeout.
                client = await asyncio.wait_for(asyncio.shield(entry.opening), self._timeout)
        except BaseException:
            self._entry = None
            pool._release(entry)
            raise
        return Lease(pool, entry, client)

    async def __aexit__(self, *exc_info: object) -> None:
        entry, self._entry = self._entry, None
        if entry is not None:
            self._pool._release(entry)


class ClientPool(Generic[K, C]):
    """Clients keyed by configuration, shared by every attempt of a transport."""

    def __init__(
        self,
        *,
        opener: Callable[[K, float], Awaitable[C]],
        closer: Callable[[C], Awaitable[None]],
        idle_after: float = 300.0,
        sweep_every: float | None = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``opener(key, timeout)`` opens a client within ``timeout`` seconds and cleans up
        after itself when it fails or is cancelled; ``closer`` closes one and should not raise.
        ``sweep_every=None`` turns the background sweep off (``close_idle`` still works).
        """
        if idle_after <= 0:
            raise ValueError(f"idle_after must be positive, not {idle_after}")
        self._opener = opener
        self._closer = closer
        self._idle_after = idle_after
        self._sweep_every = sweep_every
        self._clock = clock
        self._entries: dict[K, _Entry[C]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        """How many clients are open or opening (retired ones excluded)."""
        return len(self._entries)

    def lease(self, key: K, timeout: float) -> _Leasing[K, C]:
        """``async with``: the client for ``key``, opened if needed; it waits at most
        ``timeout`` seconds for an opening, its own or one another attempt started
        (``TimeoutError``).

        The opener's exception propagates to every attempt waiting for that opening; the next
        lease tries again.
        """
        return _Leasing(self, key, timeout)

    def _acquire(self, key: K, timeout: float) -> _Entry[C]:
        if self._closed:
            raise RuntimeError("the client pool is closed")
        entry = self._entries.get(key)
        if entry is None:
            entry = self._open(key, timeout)
        entry.leases += 1
        return entry

    def _release(self, entry: _Entry[C]) -> None:
        entry.leases -= 1
        entry.last_used = self._clock()
        if entry.retired and entry.leases == 0:
            self._close_later(entry)

    async def close_idle(self) -> int:
        """Close the clients no attempt has used for ``idle_after`` seconds; return how many."""
        now = self._clock()
        idle = [
            (key, entry)
            for key, entry in self._entries.items()
            if entry.leases == 0
            and entry.opening.done()
            and now - entry.last_used >= self._idle_after
        ]
        for key, entry in idle:
            del self._entries[key]
            await self._close_entry(entry)
        return len(idle)

    async def close(self) -> None:
        """Close every client, cancel openings and the sweep; the pool is not used afterwards."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            entry.opening.cancel()
        for entry in entries:
            await self._close_entry(entry)
        while self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _open(self, key: K, timeout: float) -> _Entry[C]:
        opening = asyncio.ensure_future(self._opener(key, timeout))
        entry: _Entry[C] = _Entry(opening, self._clock())
        self._entries[key] = entry

        def forget_failure(task: asyncio.Task[C]) -> None:
            # Reading the exception keeps asyncio from reporting it as never retrieved when
            # every waiter gave up before the opening ended.
            failed = task.cancelled() or task.exception() is not None
            if failed and self._entries.get(key) is entry:
                del self._entries[key]

        opening.add_done_callback(forget_failure)
        if self._sweeper is None and self._sweep_every is not None:
            self._sweeper = asyncio.create_task(self._sweep(self._sweep_every))
        return entry

    def _retire(self, entry: _Entry[C]) -> None:
        if entry.retired:
            return
        entry.retired = True
        for key, current in self._entries.items():
            if current is entry:
                del self._entries[key]
                break
        if entry.leases == 0:
            self._close_later(entry)

    def _close_later(self, entry: _Entry[C]) -> None:
        task = asyncio.create_task(self._close_entry(entry))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_entry(self, entry: _Entry[C]) -> None:
        if not entry.opening.done():
            await asyncio.wait([entry.opening])
        if entry.opening.cancelled() or entry.opening.exception() is not None:
            return
        try:
            await self._closer(entry.opening.result())
        except Exception as exc:  # a client that fails to close is gone all the same
            log.warning("Broker client did not close cleanly", error=repr(exc))

    async def _sweep(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self.close_idle()
