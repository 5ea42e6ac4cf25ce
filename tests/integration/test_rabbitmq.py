"""The RabbitMQ transport against the real broker: routing, properties, confirms, failures, TLS."""

from __future__ import annotations

import asyncio
import ssl
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from mockback.delivery.transports import rabbitmq as rabbitmq_module
from mockback.delivery.transports.base import Transport
from mockback.delivery.transports.rabbitmq import (
    MISSING_EXTRA,
    ConnectionKey,
    RabbitMQTransport,
)
from mockback.domain.deliveries import AttemptOutcome, CallbackType, OutboundMessage
from tests.support.brokers import (
    RABBIT_ANSWER,
    BrokerFront,
    Silent,
    TlsCerts,
    free_port,
    make_tls_certs,
    rabbit_connection,
    rabbit_messages,
    rabbitmq,
)

pytestmark = pytest.mark.services


@pytest.fixture
def rabbitmq_url() -> str:
    """The machine's RabbitMQ."""
    return rabbitmq()


@pytest.fixture(scope="module")
def tls_certs() -> TlsCerts:
    """A test CA and server certificate."""
    return make_tls_certs()


SUCCESS = AttemptOutcome.SUCCESS


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def transport() -> AsyncIterator[RabbitMQTransport]:
    t = RabbitMQTransport(sweep_every=None)
    yield t
    await t.close()


@pytest.fixture
async def channel(rabbitmq_url: str) -> AsyncIterator[AbstractChannel]:
    """A channel of the test's own, to declare queues and read what arrived."""
    async with rabbit_connection(rabbitmq_url) as connection:
        yield await asyncio.wait_for(connection.channel(), RABBIT_ANSWER)


def name(prefix: str = "mb-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def queue(channel: AbstractChannel) -> AbstractQueue:
    """A fresh queue that disappears with the test's connection."""
    return await channel.declare_queue(name(), exclusive=True)


def message(url: str, *, timeout: float = 5.0, **options: Any) -> OutboundMessage:
    headers = options.pop("headers", (("x-mockback-delivery-id", "dlv_r1"),))
    return OutboundMessage(
        delivery_id="dlv_r1",
        type=CallbackType.RABBITMQ,
        target=url,
        method="PUBLISH",
        headers=tuple(headers),
        body=options.pop("body", b'{"notify":true}'),
        timeout=timeout,
        options={"rabbitURL": url, **options},
    )


async def received(q: AbstractQueue, count: int = 1, timeout: float = 5.0) -> list[Any]:
    """The next ``count`` messages of a queue, acknowledged."""
    return await rabbit_messages(q, count, timeout)


async def test_is_a_transport() -> None:
    """RabbitMQTransport fits the Transport seam."""
    transport: Transport = RabbitMQTransport()
    await transport.close()


async def test_queue_on_the_default_exchange(
    rabbitmq_url: str, channel: AbstractChannel, transport: RabbitMQTransport
) -> None:
    """rabbitQueue alone routes through the default exchange, persistent, as JSON, with headers."""
    q = await queue(channel)
    result = await transport.send(
        message(
            rabbitmq_url,
            rabbitQueue=q.name,
            body=b'{"type":"email","to":"a@example.com"}',
            headers=(("x-mockback-delivery-id", "dlv_r1"), ("event-type", "notification")),
        )
    )
    assert result.outcome is SUCCESS, result.error
    (got,) = await received(q)
    assert got.body == b'{"type":"email","to":"a@example.com"}'
    assert got.content_type == "application/json"
    assert got.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert got.message_id == "dlv_r1"
    assert got.headers == {"x-mockback-delivery-id": "dlv_r1", "event-type": "notification"}
    assert got.routing_key == q.name
    assert got.exchange == ""


async def test_content_type_header_sets_the_property(
    rabbitmq_url: str, channel: AbstractChannel, transport: RabbitMQTransport
) -> None:
    """A Content-Type header becomes the content type, not an AMQP header."""
    q = await queue(channel)
    result = await transport.send(
        message(
            rabbitmq_url,
            rabbitQueue=q.name,
            body=b"plain words",
            headers=(("Content-Type", "text/plain"), ("x-mockback-delivery-id", "dlv_r1")),
        )
    )
    assert result.outcome is SUCCESS, result.error
    (got,) = await received(q)
    assert got.content_type == "text/plain"
    assert got.headers == {"x-mockback-delivery-id": "dlv_r1"}


async def test_exchange_and_routing_key(
    rabbitmq_url: str, channel: AbstractChannel, transport: RabbitMQTransport
) -> None:
    """rabbitExchange and rabbitRoutingKey route through that exchange; rabbitQueue is unused."""
    exchange = await channel.declare_exchange(
        name("mb-ex"), aio_pika.ExchangeType.TOPIC, auto_delete=True
    )
    q = await queue(channel)
    await q.bind(exchange, "order.*")
    try:
        result = await transport.send(
            message(
                rabbitmq_url,
                rabbitExchange=exchange.name,
                rabbitRoutingKey="order.created",
                rabbitQueue="not-used",
            )
        )
        assert result.outcome is SUCCESS, result.error
        (got,) = await received(q)
        assert got.exchange == exchange.name
        assert got.routing_key == "order.created"
    finally:
        await exchange.delete()


async def test_routing_key_wins_over_queue_on_the_default_exchange(
    rabbitmq_url: str, channel: AbstractChannel, transport: RabbitMQTransport
) -> None:
    """With the default exchange, a routing key is used rather than rabbitQueue."""
    target, other = await queue(channel), await queue(channel)
    result = await transport.send(
        message(rabbitmq_url, rabbitRoutingKey=target.name, rabbitQueue=other.name)
    )
    assert result.outcome is SUCCESS, result.error
    assert len(await received(target)) == 1
    assert await other.get(fail=False) is None


@pytest.mark.parametrize(
    ("mandatory", "outcome"),
    [
        (True, AttemptOutcome.FAILURE),  # the broker returns it: a failed attempt
        (False, AttemptOutcome.SUCCESS),  # the broker drops it and confirms
    ],
)
async def test_unroutable_message(
    rabbitmq_url: str, transport: RabbitMQTransport, mandatory: bool, outcome: AttemptOutcome
) -> None:
    """An unroutable message fails only with rabbitMandatory."""
    missing = name("no-such-queue")
    result = await transport.send(
        message(rabbitmq_url, rabbitQueue=missing, rabbitMandatory=mandatory)
    )
    assert result.outcome is outcome
    if mandatory:
        assert result.error == (
            "the broker returned the message as unroutable (312 NO_ROUTE): no queue is bound "
            f"for exchange '' with routing key '{missing}'"
        )


async def test_missing_exchange_fails_without_hurting_other_exchanges(
    rabbitmq_url: str, channel: AbstractChannel, transport: RabbitMQTransport
) -> None:
    """A missing exchange fails its attempt; publishes to other exchanges on the connection go on."""
    q = await queue(channel)
    missing = name("no-such-exchange")
    results = await asyncio.gather(
        transport.send(message(rabbitmq_url, rabbitExchange=missing, rabbitRoutingKey="k")),
        *[transport.send(message(rabbitmq_url, rabbitQueue=q.name)) for _ in range(50)],
    )
    assert results[0].outcome is AttemptOutcome.FAILURE
    assert (
        results[0].error == f"the broker refused: NOT_FOUND - no exchange '{missing}' in vhost '/'"
    )
    assert {r.outcome for r in results[1:]} == {SUCCESS}
    assert len(await received(q, 50)) == 50
    again = await transport.send(
        message(rabbitmq_url, rabbitExchange=missing, rabbitRoutingKey="k")
    )
    assert again.outcome is AttemptOutcome.FAILURE
    assert transport.open_connections == 1


async def test_a_confirm_that_never_comes_times_out_the_attempt(
    channel: AbstractChannel, transport: RabbitMQTransport
) -> None:
    """On an open connection and channel, a publish whose confirm does not come within the
    callback's timeout is a timeout, and the next attempt gets a fresh connection."""
    q = await queue(channel)
    async with BrokerFront(5672) as front:
        url = f"amqp://guest:guest@127.0.0.1:{front.port}/"
        first = await transport.send(message(url, rabbitQueue=q.name))
        assert first.outcome is SUCCESS, first.error
        front.answering.clear()  # the broker's answers (the confirm) stop reaching us
        started = time.monotonic()
        hung = await transport.send(message(url, rabbitQueue=q.name, timeout=1))
        assert hung.outcome is AttemptOutcome.TIMEOUT
        assert hung.error == "no publisher confirm from RabbitMQ within 1 s"
        assert 0.9 < time.monotonic() - started < 3
        front.answering.set()
        again = await transport.send(message(url, rabbitQueue=q.name))
        assert again.outcome is SUCCESS, again.error
        assert front.connections == 2
    assert len(await received(q, 3)) == 3


async def test_past_the_channel_limit_the_least_recently_used_exchange_gives_way(
    rabbitmq_url: str,
    channel: AbstractChannel,
    transport: RabbitMQTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One channel per exchange, at most _MAX_CHANNELS: the one closed for a new exchange is
    the one published to least recently, never one in steady use."""
    monkeypatch.setattr(rabbitmq_module, "_MAX_CHANNELS", 2)
    exchanges = [
        await channel.declare_exchange(
            name("mb-ex"), aio_pika.ExchangeType.FANOUT, auto_delete=True
        )
        for _ in range(3)
    ]
    q = await queue(channel)
    for exchange in exchanges:
        await q.bind(exchange)
    try:
        hot, cold, new = (e.name for e in exchanges)
        for exchange_name in (hot, cold, hot, hot, new):
            result = await transport.send(
                message(rabbitmq_url, rabbitExchange=exchange_name, rabbitRoutingKey="k")
            )
            assert result.outcome is SUCCESS, result.error
        assert len(await received(q, 5)) == 5
        async with transport._pool.lease(
            ConnectionKey(url=rabbitmq_url, connect_ip=None), 5
        ) as lease:
            assert list(lease.client.channels) == [hot, new]
    finally:
        for exchange in exchanges:
            await exchange.delete()


async def test_concurrent_sends_share_one_connection_and_all_arrive(
    rabbitmq_url: str, channel: AbstractChannel, transport: RabbitMQTransport
) -> None:
    """Many concurrent sends share one connection and none is lost."""
    q = await queue(channel)
    results = await asyncio.gather(
        *[
            transport.send(
                message(
                    rabbitmq_url,
                    rabbitQueue=q.name,
                    headers=(("x-mockback-delivery-id", f"dlv_{i}"),),
                )
            )
            for i in range(200)
        ]
    )
    assert {r.outcome for r in results} == {SUCCESS}
    assert transport.open_connections == 1
    got = await received(q, 200)
    assert sorted(m.headers["x-mockback-delivery-id"] for m in got) == sorted(
        f"dlv_{i}" for i in range(200)
    )


async def test_another_url_gets_another_connection(
    rabbitmq_url: str, channel: AbstractChannel, transport: RabbitMQTransport
) -> None:
    """Connections are keyed by URL."""
    q = await queue(channel)
    for url in (rabbitmq_url, rabbitmq_url, "amqp://guest:guest@localhost:5672/"):
        result = await transport.send(message(url, rabbitQueue=q.name))
        assert result.outcome is SUCCESS, result.error
    assert transport.open_connections == 2


async def test_idle_connections_are_closed(rabbitmq_url: str, channel: AbstractChannel) -> None:
    """A connection unused for idle_after seconds is closed; the next send opens a new one."""
    clock = Clock()
    transport = RabbitMQTransport(idle_after=300, sweep_every=None, clock=clock)
    q = await queue(channel)
    try:
        assert (await transport.send(message(rabbitmq_url, rabbitQueue=q.name))).outcome is SUCCESS
        clock.now += 299
        assert await transport.close_idle() == 0
        clock.now += 2
        assert await transport.close_idle() == 1
        assert transport.open_connections == 0
        assert (await transport.send(message(rabbitmq_url, rabbitQueue=q.name))).outcome is SUCCESS
        assert len(await received(q, 2)) == 2
    finally:
        await transport.close()


async def test_pinned_address_is_the_one_connected_to(
    rabbitmq_url: str, channel: AbstractChannel, transport: RabbitMQTransport
) -> None:
    """With connect_ip the connection goes there, whatever the URL's host resolves to."""
    q = await queue(channel)
    url = "amqp://guest:guest@rabbit.invalid:5672/"
    result = await transport.send(message(url, rabbitQueue=q.name, connect_ip="127.0.0.1"))
    assert result.outcome is SUCCESS, result.error
    assert len(await received(q)) == 1


async def test_tls_verifies_the_url_host(
    rabbitmq_url: str, channel: AbstractChannel, tls_certs: TlsCerts
) -> None:
    """amqps:// speaks TLS and checks the certificate against the URL's host, not the pin."""
    q = await queue(channel)
    transport = RabbitMQTransport(ssl_context=tls_certs.client, sweep_every=None)
    async with BrokerFront(5672, tls=tls_certs.server) as tls_front:
        try:
            good = f"amqps://guest:guest@localhost:{tls_front.port}/"
            result = await transport.send(message(good, rabbitQueue=q.name, connect_ip="127.0.0.1"))
            wrong = f"amqps://guest:guest@rabbit.invalid:{tls_front.port}/"
            refused = await transport.send(
                message(wrong, rabbitQueue=q.name, connect_ip="127.0.0.1")
            )
        finally:
            await transport.close()
    assert result.outcome is SUCCESS, result.error
    assert len(await received(q)) == 1
    assert refused.outcome is AttemptOutcome.ERROR
    assert refused.error is not None
    assert refused.error.startswith(
        f"the TLS certificate of RabbitMQ at rabbit.invalid:{tls_front.port}"
    )


def test_tls_context_below_1_2_is_refused() -> None:
    """A TLS context that would accept versions older than TLS 1.2 is a configuration error."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with pytest.raises(ValueError, match=r"TLS 1\.2"):
        RabbitMQTransport(ssl_context=context)


async def test_wrong_password_never_shows_the_password(
    rabbitmq_url: str, transport: RabbitMQTransport
) -> None:
    """A refused login is an error naming the user, never the password."""
    url = "amqp://guest:Wr0ng-Pa55word@127.0.0.1:5672/"
    result = await transport.send(message(url, rabbitQueue="q"))
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error == "RabbitMQ at 127.0.0.1:5672 refused the login of user 'guest'"
    assert transport.open_connections == 0


async def test_missing_virtual_host(rabbitmq_url: str, transport: RabbitMQTransport) -> None:
    """A virtual host that is not there is an error naming it."""
    vhost = name("no-such-vhost")
    result = await transport.send(
        message(f"amqp://guest:guest@127.0.0.1:5672/{vhost}", rabbitQueue="q")
    )
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error == (
        f"RabbitMQ at 127.0.0.1:5672 refused to open virtual host '{vhost}' "
        "(missing, or not permitted to the user)"
    )


async def test_broker_down_is_a_quick_error(transport: RabbitMQTransport) -> None:
    """Nothing listening: an error naming the server, well within the timeout."""
    port = free_port()
    started = time.monotonic()
    result = await transport.send(message(f"amqp://guest:guest@127.0.0.1:{port}/", rabbitQueue="q"))
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error == f"could not connect to RabbitMQ at 127.0.0.1:{port}: Connection refused"
    assert time.monotonic() - started < 2


async def test_hung_broker_times_out_without_blocking_others(
    rabbitmq_url: str, channel: AbstractChannel, transport: RabbitMQTransport
) -> None:
    """A server that never answers costs each attempt its timeout, and others go on meanwhile."""
    q = await queue(channel)
    async with Silent() as silent:
        started = time.monotonic()
        url = f"amqp://guest:guest@127.0.0.1:{silent.port}/"
        hung = asyncio.gather(
            *[transport.send(message(url, rabbitQueue="q", timeout=2)) for _ in range(20)]
        )
        healthy = await transport.send(message(rabbitmq_url, rabbitQueue=q.name))
        assert healthy.outcome is SUCCESS
        assert time.monotonic() - started < 1.5  # not held up by the hung attempts
        results = await hung
        assert {r.outcome for r in results} == {AttemptOutcome.TIMEOUT}
        assert time.monotonic() - started < 3.5
        assert silent.connections >= 1


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://127.0.0.1/", "rabbitURL must start with amqp:// or amqps://"),  # wrong scheme
        ("amqp:///vhost", "rabbitURL names no host"),  # no host
        ("amqp://h:99999/", "rabbitURL is not a valid URL (bad host or port)"),  # port too big
    ],
)
async def test_unusable_url_is_an_error(transport: RabbitMQTransport, url: str, error: str) -> None:
    """A URL that names no server ends the attempt in an error that says why."""
    result = await transport.send(message(url, rabbitQueue="q"))
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error == error


async def test_without_aio_pika_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the rabbitmq extra, attempts end in an error saying what to install."""
    monkeypatch.setitem(sys.modules, "aio_pika", None)
    transport = RabbitMQTransport()
    result = await transport.send(message("amqp://guest:guest@127.0.0.1:5672/", rabbitQueue="q"))
    await transport.close()
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error == MISSING_EXTRA
    assert "pip install 'mockback[rabbitmq]'" in MISSING_EXTRA
