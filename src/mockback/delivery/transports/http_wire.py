"""HTTP/1.1 exchanges over pooled asyncio connections: the wire under the HTTP transport.

One ``ConnectionPool`` per transport keeps kept-alive connections keyed by scheme, host, port
and the address connected to, at most ``limit`` open at once. ``exchange`` sends one request
(head and body already encoded) and returns the answer's status, reason, headers and body up to
a cap. Answers are parsed by httptools (llhttp); everything else is asyncio's transports, so a
delivery costs a few Python calls rather than a client framework's dozens.

Rules, each one what a webhook sender needs:

* Connections are reused only after a complete answer that allows it (``Connection: close``,
  HTTP/1.0 without keep-alive, a body read until the connection closed, a body cut at the cap,
  an answer to ``HEAD`` and any failure close the connection instead).
* A kept-alive connection can be closed by the target while it waits in the pool. One the loop
  has already seen closed is never used; if a reused connection closes before a single byte of
  answer comes back, the request is sent once more on a new connection (as browsers do). The
  target may then see it twice, which deliveries allow (at least once, same delivery id).
* Idle connections are closed after ``idle_timeout`` seconds (15 by default, as aiohttp).
* At the limit, a new connection first closes the oldest idle one of another target; when all
  are busy it waits for one to come back (the caller's timeout bounds the wait).
* ``1xx`` informational answers before the final one are skipped (``101`` is final); an answer
  with ``Content-Encoding: gzip`` or ``deflate`` is decompressed, up to the cap.

Failures are ``ExchangeError`` subclasses carrying what the transport needs for its sentence;
``exchange`` ends with TimeoutError after its ``timeout``, and an exchange that is timed out or
cancelled closes its connection.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import zlib
from collections import deque
from typing import Final, Protocol

import httptools

from mockback.domain.values import value

Key = tuple[bool, str, int, str | None]
"""(TLS, host, port, address to connect to or None to resolve the host)."""

_IDLE_TIMEOUT: Final = 15.0
_TICK: Final = 0.005  # seconds between looks at the deadlines of exchanges under way
_NO_BODY_STATUSES: Final = frozenset({204, 304})


# ---- failures


class ExchangeError(Exception):
    """The exchange with the target failed; the subclass says how."""


class _Unreachable(ExchangeError):
    """The target could not be reached: its name, its port and the system's error."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        super().__init__(host, port, error)
        self.host = host
        self.port = port
        self.os_error = error


class ResolveError(_Unreachable):
    """The host name did not resolve."""


class ConnectError(_Unreachable):
    """No connection could be made to any address of the host."""


class HandshakeError(_Unreachable):
    """The TLS handshake failed for a reason other than the certificate."""


class CertificateError(ExchangeError):
    """The target's TLS certificate was not accepted."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(host, reason)
        self.host = host
        self.reason = reason


class Disconnected(ExchangeError):
    """The connection closed before the answer was complete."""

    def __init__(self, received: int) -> None:
        super().__init__(received)
        self.received = received  # bytes of answer that had arrived


class MalformedBody(ExchangeError):
    """The head was valid but the body was cut short or malformed."""


class NotHttp(ExchangeError):
    """What came back is not an HTTP/1.x answer."""


# ---- answers


@value
class Answer:
    """A final answer: status, reason, lower-cased headers (repeats joined), capped body."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    truncated: bool  # the body went past the cap and was cut there
    keep_alive: bool  # the connection may carry another request


class Resolver(Protocol):
    """Turns a host name into addresses to try, in order."""

    async def resolve(self, host: str, port: int) -> list[str]:
        """IP addresses of ``host``; an ``OSError`` when it has none."""
        ...


class SystemResolver:
    """getaddrinfo through the event loop (a thread per lookup)."""

    async def resolve(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        addresses: list[str] = []
        for *_, sockaddr in infos:
            address = str(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
        return addresses


# ---- one connection


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection and the exchange running on it, if any."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._reset(0, head=False)

    def _reset(self, cap: int, *, head: bool) -> None:
        self._cap = cap
        self._head_request = head
        self._received = 0
        self._reason = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._headers_done = False
        self._until_eof = False
        self._informational = False
        self._expected: int | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            # Nothing was asked: bytes on an idle connection mean it cannot be trusted.
            self.close()
            return
        self._received += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish(keep_alive=False)
        except httptools.HttpParserError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            if self._headers_done:
                self._fail(MalformedBody(reason))
            else:
                self._fail(NotHttp(reason))

    def eof_received(self) -> bool:
        self._ended()
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._ended()

    # httptools callbacks

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("utf-8", "replace")
        known = self._headers.get(key)
        self._headers[key] = text if known is None else f"{known}, {text}"

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._informational = True  # its message ends at once; the real answer follows
            return
        self._headers_done = True
        headers = self._headers
        if self._head_request or status == 101:
            # No body follows a HEAD answer whatever its headers say; httptools cannot be told
            # so, and a 101 hands the connection to another protocol: take the head and close.
            self._finish(keep_alive=False)
            return
        length = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if length is None and not chunked and status not in _NO_BODY_STATUSES:
            self._until_eof = True
        elif length is not None and not chunked and length.strip().isdigit():
            self._expected = int(length)

    def on_body(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            return
        self._body.append(data)
        self._size += len(data)
        if self._size > self._cap:
            # One byte past the cap tells a body of exactly ``cap`` bytes from a longer one;
            # the rest is not read, so this connection cannot carry another request.
            self._finish(keep_alive=False)

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            self._headers = {}
            self._reason = b""
            return
        self._finish(keep_alive=self._parser.should_keep_alive())

    # the exchange

    def start(self, data: bytes, cap: int, *, head: bool) -> asyncio.Future[Answer]:
        """Send ``data`` (head and body); the future of the final answer."""
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            raise Disconnected(0)
        self._reset(cap, head=head)
        waiter: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        transport.write(data)
        return waiter

    def time_out(self) -> None:
        """The exchange's time is up: it fails with TimeoutError, the connection closes."""
        self._fail(TimeoutError())

    def close(self) -> None:
        """Close the connection now (an exchange on it fails).

        Aborted rather than closed: a target that stopped reading would otherwise keep the
        socket open while the rest of a request waits in the write buffer.
        """
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _ended(self) -> None:
        """The target closed its side."""
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if self._until_eof:
            self._finish(keep_alive=False)
        elif self._headers_done:
            if self._expected is not None:
                reason = f"the connection closed after {self._size} of {self._expected} bytes"
            else:
                reason = "the connection closed inside a chunked body"
            self._fail(MalformedBody(reason))
        else:
            self._fail(Disconnected(self._received))

    def _finish(self, *, keep_alive: bool) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        body = b"".join(self._body) if len(self._body) != 1 else self._body[0]
        self._body = []  # an idle connection keeps no answer alive
        cap = self._cap
        truncated = self._size > cap
        encoding = self._headers.get("content-encoding")
        if encoding is not None and body:
            body, truncated = _decoded(encoding, body, cap, truncated)
        elif truncated:
            body = body[:cap]
        if not keep_alive or truncated:
            self.close()
        waiter.set_result(
            Answer(
                status=self._parser.get_status_code(),
                reason=self._reason.decode("latin-1"),
                headers=self._headers,
                body=body,
                truncated=truncated,
                keep_alive=keep_alive and not truncated and not self.closed,
            )
        )

    def _fail(self, error: Exception) -> None:
        self.close()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)


def _decoded(encoding: str, body: bytes, cap: int, truncated: bool) -> tuple[bytes, bool]:
    """The body decompressed up to ``cap`` bytes (an unknown encoding is left as it came)."""
    name = encoding.strip().lower()
    if name in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif name == "deflate":
        wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS  # zlib or raw
    else:
        return body[:cap], truncated
    try:
        plain = zlib.decompressobj(wbits).decompress(body, cap + 1)
    except zlib.error:
        return body[:cap], truncated
    return plain[:cap], truncated or len(plain) > cap


# ---- the pool


class ConnectionPool:
    """Kept-alive connections, at most ``limit`` open, shared by every attempt."""

    def __init__(
        self,
        *,
        limit: int,
        resolver: Resolver,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float = _IDLE_TIMEOUT,
    ) -> None:
        self._limit = limit
        self._resolver = resolver
        self._ssl_context = ssl_context
        self._idle_timeout = idle_timeout
        self._idle: dict[Key, list[_Connection]] = {}
        self._open = 0  # connections open or opening, idle or busy
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._sweeper: asyncio.TimerHandle | None = None
        self._deadlines: dict[_Connection, float] = {}  # exchanges under way, by connection
        self._watch: asyncio.TimerHandle | None = None  # checks them while there are any
        self._closed = False

    @property
    def open_connections(self) -> int:
        """Connections open or being opened now."""
        return self._open

    async def exchange(
        self, key: Key, data: bytes, cap: int, *, timeout: float, head: bool = False
    ) -> Answer:
        """Send one request on a pooled or new connection; the final answer.

        The whole exchange (waiting for a slot, connecting, the answer) ends with TimeoutError
        after ``timeout`` seconds; once the request is sent, the deadline is checked every
        ``_TICK`` seconds rather than by a timer per exchange (one costs more than the parse).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        connection = self._take_idle(key)
        reused = connection is not None
        if connection is None:
            connection = await self._connect_by(key, deadline)
        try:
            answer = await self._timed(loop, connection, data, cap, head, deadline)
        except Disconnected as exc:
            self._release(connection, reusable=False)
            if not (reused and exc.received == 0):
                raise
            # A kept-alive connection the target had closed: once more, on a new one.
            connection = await self._connect_by(key, deadline)
            try:
                answer = await self._timed(loop, connection, data, cap, head, deadline)
            except BaseException:
                self._release(connection, reusable=False)
                raise
        except BaseException:
            self._release(connection, reusable=False)
            raise
        self._release(connection, reusable=answer.keep_alive)
        return answer

    async def _timed(
        self,
        loop: asyncio.AbstractEventLoop,
        connection: _Connection,
        data: bytes,
        cap: int,
        head: bool,
        deadline: float,
    ) -> Answer:
        answer = connection.start(data, cap, head=head)
        deadlines = self._deadlines
        deadlines[connection] = deadline
        if self._watch is None:
            self._watch = loop.call_later(_TICK, self._check_deadlines, loop)
        try:
            return await answer
        finally:
            del deadlines[connection]

    def _check_deadlines(self, loop: asyncio.AbstractEventLoop) -> None:
        self._watch = None
        now = loop.time()
        late = [c for c, deadline in self._deadlines.items() if deadline <= now]
        for connection in late:
            connection.time_out()
        if self._deadlines:
            self._watch = loop.call_later(_TICK, self._check_deadlines, loop)

    async def _connect_by(self, key: Key, deadline: float) -> _Connection:
        async with asyncio.timeout_at(deadline):
            return await self._connect_counted(key)

    async def close(self) -> None:
        """Close every idle connection; busy ones close when their exchange ends."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for stack in self._idle.values():
            for connection in stack:
                connection.close()
                self._open -= 1
        self._idle.clear()
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.cancel()

    def _take_idle(self, key: Key) -> _Connection | None:
        if self._closed:
            raise RuntimeError("the HTTP transport is closed")
        stack = self._idle.get(key)
        while stack:
            connection = stack.pop()
            if not connection.closed:
                return connection
            self._open -= 1  # closed by the target while it waited
        return None

    async def _connect_counted(self, key: Key) -> _Connection:
        while self._open >= self._limit:
            if self._close_oldest_idle():
                break
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # woken, then gave up: the turn goes to the next one
                elif waiter in self._waiting:  # not when close() cancelled it
                    self._waiting.remove(waiter)
                raise
            # Woken: a connection came back (maybe one to this target) or a slot freed.
            idle = self._take_idle(key)
            if idle is not None:
                return idle
        self._open += 1
        try:
            return await self._connect(key)
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise

    def _release(self, connection: _Connection, *, reusable: bool) -> None:
        if reusable and not connection.closed and not self._closed:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.key, []).append(connection)
            if self._sweeper is None:
                self._sweeper = asyncio.get_running_loop().call_later(
                    self._idle_timeout, self._sweep
                )
        else:
            connection.close()
            self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _close_oldest_idle(self) -> bool:
        oldest: list[_Connection] | None = None
        for stack in self._idle.values():
            if stack and (oldest is None or stack[0].idle_since < oldest[0].idle_since):
                oldest = stack
        if oldest is None:
            return False
        oldest.pop(0).close()
        self._open -= 1
        return True

    def _sweep(self) -> None:
        self._sweeper = None
        deadline = time.monotonic() - self._idle_timeout
        left = 0
        for key, stack in list(self._idle.items()):
            kept = []
            for connection in stack:
                if connection.closed or connection.idle_since <= deadline:
                    connection.close()
                    self._open -= 1
                else:
                    kept.append(connection)
            if kept:
                self._idle[key] = kept
                left += len(kept)
            else:
                del self._idle[key]
        if left and not self._closed:
            self._sweeper = asyncio.get_running_loop().call_later(self._idle_timeout, self._sweep)
        self._wake_one()

    async def _connect(self, key: Key) -> _Connection:
        tls, host, port, address = key
        if address is not None:
            addresses = [address]
        else:
            try:
                addresses = await self._resolver.resolve(host, port)
            except OSError as exc:
                raise ResolveError(host, port, exc) from None
            if not addresses:
                raise ResolveError(host, port, OSError(0, "no addresses"))
        context = None
        if tls:
            context = self._ssl_context or _default_context()
        loop = asyncio.get_running_loop()
        last: OSError | None = None
        for candidate in addresses:
            try:
                _, connection = await loop.create_connection(
                    lambda: _Connection(key),
                    candidate,
                    port,
                    ssl=context,
                    server_hostname=host if tls else None,
                )
            except ssl.SSLCertVerificationError as exc:
                raise CertificateError(host, exc.verify_message or str(exc)) from None
            except ssl.SSLError as exc:
                raise HandshakeError(host, port, exc) from None
            except OSError as exc:
                last = exc
                continue
            return connection
        assert last is not None
        raise ConnectError(host, port, last)


_DEFAULT_CONTEXT: list[ssl.SSLContext] = []


def _default_context() -> ssl.SSLContext:
    """The system's trust store, made once (it costs milliseconds)."""
    if not _DEFAULT_CONTEXT:
        _DEFAULT_CONTEXT.append(ssl.create_default_context())
    return _DEFAULT_CONTEXT[0]
