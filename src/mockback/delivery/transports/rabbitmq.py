"""RabbitMQ callbacks through aio-pika: pooled robust connections, publisher confirms.

Each ``send`` is one attempt: the body is published to ``rabbitExchange`` (``""`` is the
default exchange) with ``rabbitRoutingKey`` as routing key, or ``rabbitQueue`` when both are
empty (the default exchange routes by queue name). Messages are persistent and carry the
delivery id as ``message_id``; the content type is ``Content-Type`` from the headers, else
``application/json``; every other header becomes an AMQP header. Success is the broker's
publisher confirm; with ``rabbitMandatory`` an unroutable message comes back from the broker
and the attempt is a failure. Exchanges and queues are never declared: the broker's topology
is the user's.

Connections are pooled by URL and checked address, reused across messages, and closed after
``idle_after`` seconds unused. Each exchange gets its own channel, so a publish that the broker
answers by closing its channel (an exchange that does not exist) cannot fail the messages in
flight to other exchanges. A connection that fails is retired; the next attempt opens a new one.

Pinned addresses: the outbound policy resolves the URL's host, checks it, and passes the
address as ``options["connect_ip"]``; the connection goes to that address while TLS
(``amqps://``, TLS 1.2 or later) still verifies the URL's host name. Reconnections go to the
same address.

Errors never show the URL's password. aio-pika is imported on first use: without the
``rabbitmq`` extra the server runs and RabbitMQ attempts end in an error that says what to
install.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import unquote, urlsplit

import orjson

from mockback.delivery.broker_policy import (
    CONNECT_IP,
    BrokerAddressError,
    amqp_address,
    default_tls_context,
    require_tls12,
)
from mockback.delivery.transports.base import Stopwatch
from mockback.delivery.transports.client_pool import ClientPool, Lease
from mockback.domain.deliveries import AttemptOutcome, AttemptResult, OutboundMessage

if TYPE_CHECKING:
    import aiormq
    from aio_pika.abc import AbstractChannel, AbstractRobustConnection

MISSING_EXTRA: Final = (
    "RabbitMQ callbacks need the aio-pika package: pip install 'mockback[rabbitmq]'"
)
DEFAULT_CONTENT_TYPE: Final = "application/json"
_MIN_TIMEOUT: Final = 0.001  # seconds
_MAX_CHANNELS: Final = 64  # per connection; one per exchange recently published to
_PERSISTENT: Final = 2  # AMQP delivery mode of a message the broker writes to disk


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionKey:
    """What two RabbitMQ callbacks must share to share a connection."""

    url: str = field(repr=False)  # rabbitURL, password included; never shown
    connect_ip: str | None = None  # the checked address to connect to; None: the URL's host


class _PinnedTransportFactory:
    """Opens the AMQP socket to the checked address, verifying TLS against the URL's host."""

    def __init__(self, address: str | None) -> None:
        self._address = address

    async def create(
        self, url: Any, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        provider = kwargs.pop("ssl_context_provider")
        host = self._address or url.host
        if url.scheme == "amqps":
            context = await provider.get_context()
            return await asyncio.open_connection(
                host=host, port=url.port, ssl=context, server_hostname=url.host, **kwargs
            )
        return await asyncio.open_connection(host=host, port=url.port, **kwargs)


class _Connection:
    """One robust connection and its channels, one per exchange."""

    __slots__ = ("_lock", "_publishers", "channels", "connection")

    def __init__(self, connection: AbstractRobustConnection) -> None:
        self.connection = connection
        # exchange name -> its channel, least recently used first
        self.channels: collections.OrderedDict[str, AbstractChannel] = collections.OrderedDict()
        # exchange name -> the aiormq channel under its channel, while that one is open
        self._publishers: dict[str, aiormq.Channel] = {}
        self._lock = asyncio.Lock()

    def ready_publisher(self, exchange: str) -> aiormq.Channel | None:
        """The open aiormq channel that publishes to ``exchange``, if there is one now.

        Per message this is all it takes; ``publisher`` (a coroutine, and aio-pika's wait for
        a robust connection to be ready) only when there is none.
        """
        publisher = self._publishers.get(exchange)
        if publisher is None or publisher.is_closed:
            return None
        # Still the most recently used: past _MAX_CHANNELS the least recent one is closed.
        self.channels.move_to_end(exchange)
        return publisher

    async def publisher(self, exchange: str) -> aiormq.Channel:
        """The aiormq channel under ``exchange``'s channel, opened if needed (its
        ``basic_publish`` takes ``wait``, aio-pika's does not)."""
        channel = await self.channel(exchange)
        publisher = cast("aiormq.Channel", await channel.get_underlay_channel())
        if self.channels.get(exchange) is channel:
            self._publishers[exchange] = publisher
        return publisher

    async def channel(self, exchange: str) -> AbstractChannel:
        """The open channel, with publisher confirms, that publishes to ``exchange``.

        One channel per exchange: a publish to a missing exchange closes only its own.
        """
        channel = self.channels.get(exchange)
        if channel is None or channel.is_closed:
            async with self._lock:
                channel = self.channels.get(exchange)
                if channel is None or channel.is_closed:
                    channel = await self._open_channel(exchange)
        self.channels.move_to_end(exchange)
        return channel

    def forget_channel(self, exchange: str) -> None:
        """The broker closed this exchange's channel: the next publish opens a new one."""
        self.channels.pop(exchange, None)
        self._publishers.pop(exchange, None)

    async def _open_channel(self, exchange: str) -> AbstractChannel:
        # No exchange declare, not even passive: a missing exchange is the publish's error.
        channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        self.channels[exchange] = channel
        self._publishers.pop(exchange, None)
        if len(self.channels) > _MAX_CHANNELS:
            oldest_exchange, oldest = self.channels.popitem(last=False)
            self._publishers.pop(oldest_exchange, None)
            await oldest.close()
        return channel


class RabbitMQTransport:
    """Sends RabbitMQ callbacks; one instance serves every worker of the process."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        idle_after: float = 300.0,
        sweep_every: float | None = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure; nothing is opened until the first send.

        ``ssl_context`` is used for ``amqps://`` (default: the system's trust store, TLS 1.2
        or later); connections unused for ``idle_after`` seconds close.
        """
        if ssl_context is not None:
            require_tls12(ssl_context)
        self._ssl_context = ssl_context
        self._pool: ClientPool[ConnectionKey, _Connection] = ClientPool(
            opener=self._open,
            closer=_close_connection,
            idle_after=idle_after,
            sweep_every=sweep_every,
            clock=clock,
        )
        self._available: bool | None = None

    @property
    def open_connections(self) -> int:
        """How many connections are open or opening."""
        return len(self._pool)

    async def send(self, message: OutboundMessage) -> AttemptResult:
        """One attempt; the broker's faults come back as outcomes."""
        stopwatch = Stopwatch()
        if not self._library_available():
            return _result(AttemptOutcome.ERROR, stopwatch, MISSING_EXTRA)
        from pamqp.commands import Basic  # with aio-pika (the extra), through aiormq

        options = message.options
        url = str(options.get("rabbitURL") or "")
        try:
            where, password = _url_facts(url)
        except BrokerAddressError as exc:
            return _result(AttemptOutcome.ERROR, stopwatch, str(exc))
        exchange_name = str(options.get("rabbitExchange") or "")
        routing_key = str(options.get("rabbitRoutingKey") or "")
        if not exchange_name and not routing_key:
            routing_key = str(options.get("rabbitQueue") or "")
        mandatory = _flag(options.get("rabbitMandatory"))
        content_type = DEFAULT_CONTENT_TYPE
        headers: dict[str, Any] = {}
        for name, value in message.headers:
            if name.lower() == "content-type":
                content_type = value
            else:
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
        # The properties aio-pika's Message would make, built directly: per message, its
        # Message and Exchange layers cost more than the publish itself (measured).
        properties = Basic.Properties(
            content_type=content_type,
            headers=headers,
            delivery_mode=_PERSISTENT,
            message_id=message.delivery_id,
        )
        key = ConnectionKey(url=url, connect_ip=options.get(CONNECT_IP))
        lease: Lease[_Connection] | None = None
        loop = asyncio.get_running_loop()
        timeout = max(message.timeout, _MIN_TIMEOUT)
        deadline = loop.time() + timeout
        try:
            # The attempt's timeout covers connecting (the lease waits at most that long), a
            # channel to open and the confirm. Per message there is only the confirm to wait
            # for, and aiormq's publish bounds that itself: no second timeout around it.
            async with self._pool.lease(key, timeout) as lease:
                publisher = lease.client.ready_publisher(exchange_name)
                if publisher is None:
                    async with asyncio.timeout_at(deadline):
                        publisher = await lease.client.publisher(exchange_name)
                # wait=False: the channel lock is not held until the frame is on the socket,
                # so concurrent publishes queue their frames together; success is still the
                # broker's confirm, awaited here.
                await publisher.basic_publish(
                    message.body,
                    exchange=exchange_name,
                    routing_key=routing_key,
                    properties=properties,
                    mandatory=mandatory,
                    timeout=max(deadline - loop.time(), _MIN_TIMEOUT),
                    wait=False,
                )
        except TimeoutError:
            if lease is None:
                sentence = f"could not connect to RabbitMQ at {where} within {message.timeout:g} s"
            else:
                lease.retire()
                sentence = f"no publisher confirm from RabbitMQ within {message.timeout:g} s"
            return _result(AttemptOutcome.TIMEOUT, stopwatch, sentence)
        except Exception as exc:
            judged = _judge_error(exc, where=where, url=url)
            if judged is None:
                raise
            outcome, sentence, broken = judged
            if lease is not None:
                if broken == "connection":
                    lease.retire()
                elif broken == "channel":
                    lease.client.forget_channel(exchange_name)
            if password:
                sentence = sentence.replace(password, "***")
            return _result(outcome, stopwatch, sentence)
        return AttemptResult(
            outcome=AttemptOutcome.SUCCESS,
            duration_ms=stopwatch.elapsed_ms(),
            response_body=_confirmed(exchange_name, routing_key),
        )

    async def close_idle(self) -> int:
        """Close the connections unused for ``idle_after`` seconds; return how many."""
        return await self._pool.close_idle()

    async def close(self) -> None:
        """Close every connection; the transport is not used afterwards."""
        await self._pool.close()

    def _library_available(self) -> bool:
        if self._available is None:
            try:
                import aio_pika  # noqa: F401
            except ImportError:
                self._available = False
            else:
                self._available = True
        return self._available

    async def _open(self, key: ConnectionKey, timeout: float) -> _Connection:
        import aio_pika
        from yarl import URL

        url = URL(key.url)
        tls = url.scheme == "amqps"
        if tls and self._ssl_context is None:
            self._ssl_context = default_tls_context()
        connection = aio_pika.RobustConnection(url, ssl_context=self._ssl_context if tls else None)
        # aio-pika keeps only the parameters it knows; aiormq reads the factory from here.
        connection.kwargs["transport_factory"] = _PinnedTransportFactory(key.connect_ip)
        try:
            await connection.connect(timeout=timeout)
        except BaseException:
            await _close_connection(_Connection(connection))
            raise
        return _Connection(connection)


async def _close_connection(holder: _Connection) -> None:
    try:
        await asyncio.wait_for(holder.connection.close(), 10.0)
    except Exception:
        return


def _judge_error(exc: Exception, *, where: str, url: str) -> tuple[AttemptOutcome, str, str] | None:
    """(outcome, sentence, what broke: "connection", "channel" or "") for a publish error."""
    from aiormq import exceptions as amqp

    if isinstance(exc, amqp.PublishError):
        frame: Any = exc.frame  # a Basic.Return
        return (
            AttemptOutcome.FAILURE,
            f"the broker returned the message as unroutable ({frame.reply_code} "
            f"{frame.reply_text}): no queue is bound for exchange {frame.exchange!r} "
            f"with routing key {frame.routing_key!r}",
            "",
        )
    if isinstance(exc, amqp.DeliveryError):
        return AttemptOutcome.FAILURE, "the broker refused the message (negative confirm)", ""
    if isinstance(exc, amqp.ChannelClosed):
        return AttemptOutcome.FAILURE, f"the broker refused: {_reply(exc)}", "channel"
    if isinstance(exc, amqp.AMQPChannelError | amqp.ChannelInvalidStateError):
        return AttemptOutcome.ERROR, f"the channel to RabbitMQ failed: {_one_line(exc)}", "channel"
    if isinstance(exc, amqp.ProbableAuthenticationError | amqp.AuthenticationError):
        user = unquote(urlsplit(url).username or "guest")
        return (
            AttemptOutcome.ERROR,
            f"RabbitMQ at {where} refused the login of user {user!r}",
            "connection",
        )
    if isinstance(exc, amqp.ConnectionNotAllowed):
        return (
            AttemptOutcome.ERROR,
            f"RabbitMQ at {where} refused the connection: {_reply(exc)}",
            "connection",
        )
    if isinstance(exc, amqp.IncompatibleProtocolError):
        return AttemptOutcome.ERROR, f"{where} did not answer as an AMQP 0-9-1 server", "connection"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            AttemptOutcome.ERROR,
            f"the TLS certificate of RabbitMQ at {where} was not accepted: {exc.verify_message}",
            "connection",
        )
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or _one_line(exc)
        return (
            AttemptOutcome.ERROR,
            f"the TLS handshake with {where} failed: {reason}",
            "connection",
        )
    if isinstance(exc, amqp.ConnectionClosed):
        return AttemptOutcome.ERROR, f"RabbitMQ closed the connection: {_reply(exc)}", "connection"
    if isinstance(exc, OSError):
        return (
            AttemptOutcome.ERROR,
            f"could not connect to RabbitMQ at {where}: {_os_reason(exc)}",
            "connection",
        )
    if isinstance(exc, amqp.InvalidFrameError) and "Connection.Close" in str(exc):
        # aiormq reports a refused Connection.Open (a virtual host that is missing or not
        # permitted to the user) as an unexpected frame.
        vhost = unquote(urlsplit(url).path[1:]) or "/"
        return (
            AttemptOutcome.ERROR,
            f"RabbitMQ at {where} refused to open virtual host {vhost!r} "
            "(missing, or not permitted to the user)",
            "connection",
        )
    if isinstance(exc, amqp.AMQPError):
        return AttemptOutcome.ERROR, f"AMQP error: {_one_line(exc)}", "connection"
    return None


def _result(outcome: AttemptOutcome, stopwatch: Stopwatch, error: str) -> AttemptResult:
    return AttemptResult(outcome=outcome, duration_ms=stopwatch.elapsed_ms(), error=error)


@functools.lru_cache(maxsize=256)
def _url_facts(url: str) -> tuple[str, str]:
    """(the broker's ``host:port`` for sentences, the URL's password) of a valid rabbitURL.

    Raises BrokerAddressError for an unusable URL. Remembered: a mock's URL repeats on every
    message, and parsing it cost more than a tenth of a publish.
    """
    return str(amqp_address(url)), _password(url)


@functools.lru_cache(maxsize=256)
def _confirmed(exchange: str, routing_key: str) -> str:
    """What a confirmed publish records as its answer."""
    return orjson.dumps(
        {"confirmed": True, "exchange": exchange, "routingKey": routing_key}
    ).decode()


def _password(url: str) -> str:
    try:
        password = urlsplit(url).password
    except ValueError:
        return ""
    return unquote(password) if password else ""


def _reply(exc: BaseException) -> str:
    # aiormq's closing errors carry (reply code, reply text) as their arguments.
    args = [str(arg) for arg in getattr(exc, "args", ()) if arg not in (None, "")]
    return " ".join(args) or type(exc).__name__


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _os_reason(error: OSError) -> str:
    if error.errno is not None and error.errno > 0:
        return os.strerror(error.errno)
    text = error.args[1] if len(error.args) > 1 else error.strerror
    return _one_line(text) if text else type(error).__name__


def _one_line(value: object) -> str:
    return " ".join(str(value).split())
