"""A real HTTP webhook receiver for tests: records every call and answers as programmed.

It listens on 127.0.0.1, port 0 (never a fixed port). Two ways to run it:

* ``async with Receiver() as r`` in the test's own event loop;
* ``with ThreadedReceiver() as r`` in a thread with its own loop, for synchronous tests (the
  ``webhook_receiver`` fixture of the pytest plugin is one of these).

Programming is per path or global (``path=None``); a path's program wins over the global one.
A program is a queue of replies used one per call, then a standing reply for every later call:
``respond`` (status, headers, body, delay), ``fail_first`` (N failures, then success),
``hang`` (no answer until the receiver closes), ``drop`` (close the connection abruptly), ``raw``
(arbitrary bytes, then close), or ``script`` for any sequence of ``Reply`` values.
``wait_for(count, timeout)`` returns the first calls once they have arrived.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ssl import SSLContext
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiMapping

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One request the receiver got."""

    method: str  # as sent, e.g. "POST"
    path: str  # decoded path, without the query
    query_string: str  # raw query, without "?"
    query: MultiMapping[str]  # parsed query parameters
    headers: CIMultiDictProxy[str]  # case-insensitive; duplicates kept
    raw_headers: tuple[tuple[str, str], ...]  # exactly as received: order, case, duplicates
    body: bytes  # the exact bytes received
    arrived_monotonic: float  # time.monotonic() on arrival
    arrived_at: datetime  # wall time on arrival, UTC
    peer: tuple[str, int]  # client address and port: one port per TCP connection

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """How the receiver answers one call."""

    status: int = 200  # HTTP status of the answer
    headers: tuple[tuple[str, str], ...] = ()  # extra answer headers, duplicates allowed
    body: bytes = b""  # answer body
    delay: float = 0.0  # seconds to wait before answering
    hang: bool = False  # never answer; the connection is dropped when the receiver closes
    drop: bool = False  # close the connection without answering
    raw: bytes | None = None  # write these bytes instead of an HTTP answer, then close


def _pairs(headers: Headers) -> tuple[tuple[str, str], ...]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(k), str(v)) for k, v in items)


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


@dataclass(slots=True)
class _Program:
    """A path's (or the global) answers; mutable, as replies are used up."""

    queue: deque[Reply] = field(default_factory=deque)  # replies for the next calls, in order
    then: Reply = field(default_factory=Reply)  # the reply once the queue is empty


class _Recorder:
    """Calls and programs, shared between the server's loop and the test's thread."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.calls: list[Call] = []
        self.programs: dict[str | None, _Program] = {}

    def record(self, call: Call) -> Reply:
        with self.changed:
            self.calls.append(call)
            program = self.programs.get(call.path) or self.programs.get(None)
            if program is None:
                reply = Reply()
            elif program.queue:
                reply = program.queue.popleft()
            else:
                reply = program.then
            self.changed.notify_all()
        return reply

    def program(self, path: str | None, replies: Iterable[Reply], then: Reply) -> None:
        with self.changed:
            self.programs[path] = _Program(deque(replies), then)

    def matching(self, path: str | None) -> list[Call]:
        with self.changed:
            return [c for c in self.calls if path is None or c.path == path]

    def reset(self) -> None:
        with self.changed:
            self.calls.clear()
            self.programs.clear()

    def shortfall(self, count: int, timeout: float, path: str | None) -> str:
        with self.changed:
            seen = "".join(
                f"\n  {c.method} {c.path}{'?' + c.query_string if c.query_string else ''}"
                f" ({len(c.body)} bytes)"
                for c in self.calls
            )
            where = f" to {path}" if path else ""
            return (
                f"expected {count} call(s){where} within {timeout:g} s; "
                f"the receiver got {len(self.calls)}:{seen or ' none'}"
            )


class _Programmable:
    """What both receivers share: addresses, recorded calls and programming."""

    _recorder: _Recorder
    _scheme: str
    _port: int | None
    _host: str

    @property
    def port(self) -> int:
        """The port the receiver listens on."""
        if self._port is None:
            raise RuntimeError("the receiver is not running")
        return self._port

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        """The receiver's URL for ``path`` (``host`` may be a name pinned to its address)."""
        if host is None:
            host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{self._scheme}://{host}:{self.port}{path}"

    @property
    def calls(self) -> list[Call]:
        """Every call so far, in arrival order."""
        return self._recorder.matching(None)

    def calls_to(self, path: str) -> list[Call]:
        """The calls to ``path`` so far."""
        return self._recorder.matching(path)

    def script(self, *replies: Reply, then: Reply | None = None, path: str | None = None) -> None:
        """Answer the next calls with ``replies`` in order, then always with ``then``."""
        self._recorder.program(path, replies, then or Reply())

    def respond(
        self,
        status: int = 200,
        *,
        headers: Headers = (),
        body: bytes | str = b"",
        delay: float = 0.0,
        path: str | None = None,
    ) -> None:
        """Answer every call with this status, headers and body, after ``delay`` seconds."""
        reply = Reply(status=status, headers=_pairs(headers), body=_bytes(body), delay=delay)
        self.script(then=reply, path=path)

    def fail_first(
        self, count: int, status: int = 500, *, then: Reply | None = None, path: str | None = None
    ) -> None:
        """Answer the next ``count`` calls with ``status``, then succeed (or answer ``then``)."""
        self.script(*[Reply(status=status)] * count, then=then, path=path)

    def hang(self, *, path: str | None = None) -> None:
        """Never answer; the connection is dropped when the receiver closes."""
        self.script(then=Reply(hang=True), path=path)

    def drop(self, *, path: str | None = None) -> None:
        """Close the connection abruptly instead of answering."""
        self.script(then=Reply(drop=True), path=path)

    def raw(self, data: bytes, *, path: str | None = None) -> None:
        """Write ``data`` instead of an HTTP answer, then close the connection."""
        self.script(then=Reply(raw=data), path=path)

    def reset(self) -> None:
        """Forget every call and program."""
        self._recorder.reset()


class Receiver(_Programmable):
    """The receiver in the current event loop: ``async with Receiver() as r``."""

    def __init__(self, *, ssl_context: SSLContext | None = None, host: str = "127.0.0.1") -> None:
        """``host`` is the loopback address to listen on (``"::1"`` for IPv6)."""
        self._recorder = _Recorder()
        self._host = host
        self._ssl_context = ssl_context
        self._scheme = "https" if ssl_context else "http"
        self._port = None
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._arrived: asyncio.Event | None = None

    async def start(self) -> None:
        """Listen on the receiver's address, on a free port."""
        self._closing = asyncio.Event()
        self._arrived = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, 0, ssl_context=self._ssl_context)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Wake hanging handlers (they drop their connections) and stop listening."""
        if self._closing is not None:
            self._closing.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def wait_for(
        self, count: int, timeout: float = 5.0, *, path: str | None = None
    ) -> list[Call]:
        """The first ``count`` calls (to ``path``), once arrived; AssertionError on timeout."""
        assert self._arrived is not None, "the receiver is not running"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(calls := self._recorder.matching(path)) < count:
            self._arrived.clear()
            remaining = deadline - loop.time()
            try:
                await asyncio.wait_for(self._arrived.wait(), max(remaining, 0))
            except TimeoutError:
                if len(calls := self._recorder.matching(path)) >= count:
                    break
                raise AssertionError(self._recorder.shortfall(count, timeout, path)) from None
        return calls[:count]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        call = Call(
            method=request.method,
            path=request.path,
            query_string=request.query_string,
            query=request.query,
            headers=request.headers,
            raw_headers=tuple(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers
            ),
            body=body,
            arrived_monotonic=time.monotonic(),
            arrived_at=datetime.now(UTC),
            peer=(str(peer[0]), int(peer[1])) if peer else ("", 0),
        )
        reply = self._recorder.record(call)
        assert self._arrived is not None and self._closing is not None
        self._arrived.set()
        if reply.delay and await self._closed_within(reply.delay):
            return self._abort(request)
        if reply.hang:
            await self._closing.wait()
            return self._abort(request)
        if reply.drop:
            return self._abort(request)
        if reply.raw is not None:
            if request.transport is not None:
                request.transport.write(reply.raw)
            return self._abort(request)
        return web.Response(
            status=reply.status, headers=CIMultiDict(reply.headers), body=reply.body
        )

    async def _closed_within(self, seconds: float) -> bool:
        assert self._closing is not None
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            return False
        return True

    @staticmethod
    def _abort(request: web.Request) -> web.StreamResponse:
        # Closing the transport ends the exchange without an answer; aiohttp then ignores the
        # response it cannot write.
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=599)


class ThreadedReceiver(_Programmable):
    """The receiver in its own thread and loop, for synchronous tests."""

    def __init__(self, *, ssl_context: SSLContext | None = None) -> None:
        self._inner = Receiver(ssl_context=ssl_context)
        self._host = self._inner._host
        self._recorder = self._inner._recorder
        self._scheme = self._inner._scheme
        self._port = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread and listen on a free port."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="receiver", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._inner.start(), loop).result(timeout=10)
        self._port = self._inner.port

    def close(self) -> None:
        """Stop listening and end the thread."""
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._inner.close(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def wait_for(self, count: int, timeout: float = 5.0, *, path: str | None = None) -> list[Call]:
        """The first ``count`` calls (to ``path``), once arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        changed = self._recorder.changed
        with changed:
            while len(calls := self._recorder.matching(path)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._recorder.shortfall(count, timeout, path))
                changed.wait(remaining)
        return calls[:count]
