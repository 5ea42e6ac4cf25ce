"""The HTTP wire under the transport: answers of every shape, kept-alive connections, the pool."""

from __future__ import annotations

import asyncio
import base64
import gzip
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from mockback.delivery.transports.http import HttpTransport
from mockback.delivery.transports.http_wire import ConnectionPool, SystemResolver
from mockback.domain.deliveries import AttemptOutcome, CallbackType, OutboundMessage
from tests.support.receiver import Receiver

SUCCESS = AttemptOutcome.SUCCESS


def message(url: str, **fields: Any) -> OutboundMessage:
    return OutboundMessage(delivery_id="dlv_wire", type=CallbackType.HTTP, target=url, **fields)


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    t = HttpTransport()
    yield t
    await t.close()


class RawServer:
    """A TCP server on 127.0.0.1 whose answers a test writes by hand, per connection.

    ``answer(connection_number, request_number)`` returns the bytes to write for a request, or
    None to close the connection without answering.
    """

    def __init__(self, answer: Callable[[int, int], bytes | None]) -> None:
        self._answer = answer
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request head)
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                self.requests.append((number, head))
                served += 1
                reply = self._answer(number, served)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_a_kept_alive_connection_closed_by_the_target_is_replaced() -> None:
    """When a reused connection closes without an answer, the request goes once more on a new
    connection and the attempt succeeds."""

    # The first connection answers one request, then closes when the next one arrives.
    def answer(connection: int, request: int) -> bytes | None:
        return OK if connection > 1 or request == 1 else None

    async with RawServer(answer) as server:
        transport = HttpTransport()
        try:
            first = await transport.send(message(server.url()))
            second = await transport.send(message(server.url()))
        finally:
            await transport.close()
    assert first.outcome is SUCCESS and second.outcome is SUCCESS, second.error
    assert [c for c, _ in server.requests] == [1, 1, 2]


async def test_a_fresh_connection_closed_without_an_answer_is_not_sent_again() -> None:
    """On a new connection a close without an answer is an error; the request went once."""
    async with RawServer(lambda c, r: None) as server:
        transport = HttpTransport()
        try:
            result = await transport.send(message(server.url()))
        finally:
            await transport.close()
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error == "the target closed the connection before answering completely"
    assert len(server.requests) == 1


async def test_connection_close_is_honoured() -> None:
    """An answer with ``Connection: close`` is not followed by another request on it."""
    reply = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    async with RawServer(lambda c, r: reply) as server:
        transport = HttpTransport()
        try:
            for _ in range(3):
                assert (await transport.send(message(server.url()))).outcome is SUCCESS
        finally:
            await transport.close()
    assert [c for c, _ in server.requests] == [1, 2, 3]


@pytest.mark.parametrize(
    ("raw", "status", "body"),
    [
        # informational answers before the final one are skipped
        (b"HTTP/1.1 100 Continue\r\n\r\n" + OK, 200, "ok"),
        # no length: the body runs until the connection closes
        (b"HTTP/1.1 200 OK\r\n\r\nuntil the end", 200, "until the end"),
        # chunked
        (
            b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            202,
            "abcde",
        ),
        # gzip is decompressed
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
            % (len(gzip.compress(b"zipped")), gzip.compress(b"zipped")),
            200,
            "zipped",
        ),
        # deflate (zlib) too
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n%s"
            % (len(zlib.compress(b"deflated")), zlib.compress(b"deflated")),
            200,
            "deflated",
        ),
        # a switch of protocols is a final answer (a failure), not a hang
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 101, ""),
        # HTTP/1.0
        (b"HTTP/1.0 201 Created\r\nContent-Length: 3\r\n\r\nold", 201, "old"),
    ],
)
async def test_answers_of_every_shape(
    receiver: Receiver, transport: HttpTransport, raw: bytes, status: int, body: str
) -> None:
    """Each framing of an answer is read to its end, and the body kept as sent."""
    receiver.raw(raw)
    result = await transport.send(message(receiver.url("/"), timeout=5))
    assert result.status_code == status, result.error
    assert result.response_body == body


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "sent", "kept"),
    [
        ("deflate", _raw_deflate(b"raw deflate"), b"raw deflate"),  # deflate without zlib header
        ("br", b"\x8b\x00opaque", b"\x8b\x00opaque"),  # unknown: kept as it came
        ("gzip", b"not gzip at all", b"not gzip at all"),  # corrupt: kept as it came
    ],
)
async def test_other_encodings_are_kept_or_decoded(
    receiver: Receiver, transport: HttpTransport, encoding: str, sent: bytes, kept: bytes
) -> None:
    """Raw deflate is decoded; an unknown or broken encoding leaves the body as sent."""
    receiver.raw(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n%s"
        % (encoding.encode(), len(sent), sent)
    )
    result = await transport.send(message(receiver.url("/")))
    assert result.outcome is SUCCESS, result.error
    assert result.response_body == kept.decode("utf-8", "replace")


async def test_gzip_body_is_capped_after_decompression(receiver: Receiver) -> None:
    """The cap applies to the body as decompressed."""
    packed = gzip.compress(b"x" * 1000)
    receiver.raw(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
        % (len(packed), packed)
    )
    transport = HttpTransport(body_cap=10)
    try:
        result = await transport.send(message(receiver.url("/")))
    finally:
        await transport.close()
    assert result.response_body == "x" * 10
    assert result.truncated is True


async def test_head_answer_with_a_length_does_not_wait_for_a_body() -> None:
    """An answer to HEAD has no body whatever its Content-Length says."""
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    async with RawServer(lambda c, r: reply) as server:
        transport = HttpTransport()
        try:
            result = await transport.send(message(server.url(), method="HEAD", timeout=2))
        finally:
            await transport.close()
    assert result.outcome is SUCCESS, result.error
    assert result.response_body == ""


async def test_credentials_in_the_url_become_basic_authorization(
    receiver: Receiver, transport: HttpTransport
) -> None:
    """``user:password@`` in the URL is sent as Basic authorization, not in the request line."""
    url = receiver.url("/auth").replace("://", "://ann:s%40fe@")
    result = await transport.send(message(url))
    assert result.outcome is SUCCESS, result.error
    (call,) = await receiver.wait_for(1)
    assert call.headers["Authorization"] == "Basic " + base64.b64encode(b"ann:s@fe").decode()


async def test_callers_authorization_wins_over_url_credentials(
    receiver: Receiver, transport: HttpTransport
) -> None:
    """An Authorization header the callback sets is the only one sent."""
    url = receiver.url("/auth").replace("://", "://ann:pw@")
    await transport.send(message(url, headers=(("Authorization", "Bearer t"),)))
    (call,) = await receiver.wait_for(1)
    assert call.headers.getall("Authorization") == ["Bearer t"]


async def test_url_is_percent_encoded(receiver: Receiver, transport: HttpTransport) -> None:
    """Spaces and non-ASCII characters in a rendered URL are encoded, not sent raw."""
    result = await transport.send(message(receiver.url("/a b/é?q=x y&r=ü")))
    assert result.outcome is SUCCESS, result.error
    (call,) = await receiver.wait_for(1)
    assert call.path == "/a b/é"
    assert dict(call.query) == {"q": "x y", "r": "ü"}


async def test_callers_host_header_is_sent_instead(
    receiver: Receiver, transport: HttpTransport
) -> None:
    """A Host header set by the callback replaces the URL's, once."""
    await transport.send(message(receiver.url("/"), headers=(("Host", "virtual.test"),)))
    (call,) = await receiver.wait_for(1)
    assert [v for k, v in call.raw_headers if k.lower() == "host"] == ["virtual.test"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "Transfer-Encoding",
            "chunked",
            "Transfer-Encoding cannot be set: the body is sent whole, with its length",
        ),
        ("Content-Length", "99", "Content-Length says 99 but the body has 1 bytes"),
        ("Bad Name", "x", "the header name 'Bad Name' is not an HTTP token"),
        ("X-Nul", "a\x00b", "the value of header X-Nul holds a line break or NUL"),
    ],
)
async def test_headers_that_would_break_framing_are_refused(
    receiver: Receiver, transport: HttpTransport, name: str, value: str, expected: str
) -> None:
    """Framing headers and malformed names or values are errors; nothing is sent."""
    result = await transport.send(message(receiver.url("/"), headers=((name, value),), body=b"b"))
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error == f"the request could not be sent: {expected}"
    assert receiver.calls == []


async def test_callers_matching_content_length_is_sent_once(
    receiver: Receiver, transport: HttpTransport
) -> None:
    """A Content-Length that matches the body goes out as the caller spelled it, once."""
    headers = (("content-length", "4"),)
    result = await transport.send(message(receiver.url("/"), headers=headers, body=b"four"))
    assert result.outcome is SUCCESS, result.error
    (call,) = await receiver.wait_for(1)
    assert [(k, v) for k, v in call.raw_headers if k.lower() == "content-length"] == [
        ("content-length", "4")
    ]


async def test_empty_post_says_its_length(receiver: Receiver, transport: HttpTransport) -> None:
    """A POST without a body still says ``Content-Length: 0``; a GET says nothing."""
    await transport.send(message(receiver.url("/p"), method="POST"))
    await transport.send(message(receiver.url("/g"), method="GET"))
    post, get = await receiver.wait_for(2)
    assert post.headers["Content-Length"] == "0"
    assert "Content-Length" not in get.headers


async def test_at_the_limit_an_idle_connection_to_another_target_makes_room() -> None:
    """With every slot held by idle connections to one target, another target still gets one."""
    async with Receiver() as a, Receiver() as b:
        transport = HttpTransport(pool_limit=1)
        try:
            first = await transport.send(message(a.url("/")))
            second = await transport.send(message(b.url("/"), timeout=2))
            third = await transport.send(message(a.url("/"), timeout=2))
        finally:
            await transport.close()
    assert [r.outcome for r in (first, second, third)] == [SUCCESS] * 3
    assert a.calls[0].peer != a.calls[1].peer  # its idle connection was closed for b


async def test_waiting_for_a_connection_counts_in_the_timeout(receiver: Receiver) -> None:
    """When every connection is busy, an attempt waits for one only as long as its timeout."""
    receiver.hang(path="/slow")
    transport = HttpTransport(pool_limit=1)
    try:
        slow = asyncio.create_task(transport.send(message(receiver.url("/slow"), timeout=3)))
        await receiver.wait_for(1, path="/slow")
        waiting = await transport.send(message(receiver.url("/fast"), timeout=0.2))
        slow_result = await slow
        after = await transport.send(message(receiver.url("/fast"), timeout=2))
    finally:
        await transport.close()
    assert waiting.outcome is AttemptOutcome.TIMEOUT
    assert receiver.calls_to("/fast")[0:1] and after.outcome is SUCCESS
    assert slow_result.outcome is AttemptOutcome.TIMEOUT


async def test_a_timed_out_attempt_closes_its_connection(receiver: Receiver) -> None:
    """A connection whose answer never came is closed, not pooled for the next attempt."""
    receiver.hang(path="/hang")
    pool = ConnectionPool(limit=5, resolver=SystemResolver())
    key = (False, "127.0.0.1", receiver.port, None)
    request = b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n"
    with pytest.raises(TimeoutError):
        await pool.exchange(key, request, 100, timeout=0.2)
    assert pool.open_connections == 0
    await pool.close()


async def test_idle_connections_are_closed_after_the_idle_timeout(receiver: Receiver) -> None:
    """Kept-alive connections that nobody uses are closed after a while."""
    pool = ConnectionPool(limit=5, resolver=SystemResolver(), idle_timeout=0.1)
    key = (False, "127.0.0.1", receiver.port, None)
    answer = await pool.exchange(key, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 100, timeout=5)
    assert answer.status == 200 and answer.keep_alive
    assert pool.open_connections == 1
    await asyncio.sleep(0.35)
    assert pool.open_connections == 0
    await pool.close()


async def test_a_timed_out_request_the_target_never_read_is_dropped() -> None:
    """A request stuck in the write buffer (the target reads nothing) is dropped at its
    timeout, not kept open until the target has read all of it."""
    size = 64 << 20
    received: list[int] = []

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.6)  # the client's timeout passes while nothing is read
        total = 0
        try:
            while chunk := await reader.read(1 << 20):  # then everything that still comes
                total += len(chunk)
        except ConnectionError:
            pass
        received.append(total)
        writer.close()

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = HttpTransport()
    try:
        result = await transport.send(
            message(f"http://127.0.0.1:{port}/", body=b"x" * size, timeout=0.2)
        )
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.1)
    finally:
        await transport.close()
        server.close()
        await server.wait_closed()
    assert result.outcome is AttemptOutcome.TIMEOUT
    # Only what the kernels had buffered arrives; the rest was dropped with the connection.
    assert received and received[0] < size // 2
