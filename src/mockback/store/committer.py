"""One thread owns the SQLite connection and commits queued work in groups.

Every call is a function run on that thread. Calls that arrive while a transaction is being
written wait and then share the next one, so many small writes cost one fsync (group commit).
A call's result reaches its awaiting coroutine only after the transaction holding it has
committed: when ``await`` returns, the write is durable.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


class Committer:
    """A writer thread with group commit."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], *, max_batch: int = 2000) -> None:
        self._connect = connect
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._max_batch = max_batch
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    def start(self) -> None:
        """Open the connection on the writer thread; raise what opening raised."""
        self._thread = threading.Thread(target=self._run, name="mockback-sqlite", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        """Commit what is queued, close the connection, end the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join()
        self._thread = None

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` in the next group; return once it has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, future, loop))
        return await future

    def _run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                batch = [item]
                stop = False
                while len(batch) < self._max_batch:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop = True
                        break
                    batch.append(nxt)
                self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    @staticmethod
    def _run_batch(conn: sqlite3.Connection, batch: list[Any]) -> None:
        # Every SQLite call hands the GIL to the event loop and waits to get it back, so a
        # batch makes as few as it can: all calls in one transaction, no savepoints. Only when
        # a call fails is the batch run again with a savepoint around each call, so one
        # failing call does not undo the others.
        results: list[tuple[Any, bool, Any, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for fn, future, loop in batch:
                results.append((future, True, fn(conn), loop))
        except BaseException:
            conn.execute("ROLLBACK")
            results = Committer._run_isolated(conn, batch)
        else:
            try:
                conn.execute("COMMIT")
            except BaseException as exc:
                conn.execute("ROLLBACK")
                results = [(f, False, exc, lp) for f, _, _, lp in results]
        # One wake-up per loop, not per call: each is a system call on this thread.
        by_loop: dict[Any, list[tuple[Any, bool, Any]]] = {}
        for future, ok, value, loop in results:
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle_all, settled)

    @staticmethod
    def _run_isolated(
        conn: sqlite3.Connection, batch: list[Any]
    ) -> list[tuple[Any, bool, Any, Any]]:
        results: list[tuple[Any, bool, Any, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        for fn, future, loop in batch:
            conn.execute("SAVEPOINT op")
            try:
                value = fn(conn)
            except BaseException as exc:
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
                results.append((future, False, exc, loop))
            else:
                conn.execute("RELEASE op")
                results.append((future, True, value, loop))
        try:
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            results = [(f, False, exc, lp) for f, _, _, lp in results]
        return results


def _settle_all(settled: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in settled:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
