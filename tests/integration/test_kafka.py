"""The Kafka transport against a real broker (tansu): records, reuse, failures, TLS, SASL, policy."""

from __future__ import annotations

import asyncio
import ssl
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped,unused-ignore]

from mockback.delivery.broker_policy import address_check
from mockback.delivery.outbound_policy import OutboundPolicy
from mockback.delivery.transports.base import Transport
from mockback.delivery.transports.kafka import MISSING_EXTRA, KafkaTransport
from mockback.domain.deliveries import AttemptOutcome, CallbackType, OutboundMessage
from tests.support.brokers import (
    BrokerFront,
    Silent,
    Tansu,
    TlsCerts,
    free_port,
    make_tls_certs,
    running_tansu,
)

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def tansu() -> Iterator[Tansu]:
    """A Kafka broker for this module."""
    with running_tansu() as broker:
        yield broker


@pytest.fixture(scope="module")
def tls_certs() -> TlsCerts:
    """A test CA and server certificate."""
    return make_tls_certs()


SUCCESS = AttemptOutcome.SUCCESS


class FakeResolver:
    """Answers from a fixed table."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def __call__(self, host: str, port: int) -> list[str]:
        return self.answers[host]


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def transport() -> AsyncIterator[KafkaTransport]:
    t = KafkaTransport(sweep_every=None)
    yield t
    await t.close()


def topic() -> str:
    return f"mb-test-{uuid.uuid4().hex[:12]}"


def message(
    brokers: str, topic_name: str, *, timeout: float = 5.0, **options: Any
) -> OutboundMessage:
    headers = options.pop("headers", (("x-mockback-delivery-id", "dlv_k1"),))
    return OutboundMessage(
        delivery_id="dlv_k1",
        type=CallbackType.KAFKA,
        target=f"kafka://{brokers}/{topic_name}",
        method="PUBLISH",
        headers=tuple(headers),
        body=options.pop("body", b'{"event":"order.created"}'),
        timeout=timeout,
        options={"kafkaBrokers": brokers, "kafkaTopic": topic_name, **options},
    )


async def consume(
    bootstrap: str, topic_name: str, count: int, timeout: float = 10.0, **client: Any
) -> list[Any]:
    """The first ``count`` records of a topic (``client``: aiokafka TLS/SASL settings)."""
    consumer = AIOKafkaConsumer(
        topic_name,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        **client,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=200)
                for part in batch.values():
                    records.extend(part)
    finally:
        await consumer.stop()
    return records


async def test_is_a_transport() -> None:
    """KafkaTransport fits the Transport seam."""
    transport: Transport = KafkaTransport()
    await transport.close()


async def test_record_carries_value_key_and_headers(
    tansu: Tansu, transport: KafkaTransport
) -> None:
    """The value is the exact body, the key is kafkaKey, headers pass but Content-Type."""
    name = topic()
    sent = message(
        tansu.bootstrap,
        name,
        kafkaKey="cust-42",
        body=b'{"orderId":"o-1","total":12.5}',
        headers=(
            ("Content-Type", "application/json"),
            ("event-type", "order.created"),
            ("source", "order-service"),
            ("x-mockback-delivery-id", "dlv_k1"),
        ),
    )
    result = await transport.send(sent)
    assert result.outcome is SUCCESS, result.error
    assert result.response_body is not None and f'"topic":"{name}"' in result.response_body
    (record,) = await consume(tansu.bootstrap, name, 1)
    assert record.value == b'{"orderId":"o-1","total":12.5}'
    assert record.key == b"cust-42"
    assert list(record.headers) == [
        ("event-type", b"order.created"),
        ("source", b"order-service"),
        ("x-mockback-delivery-id", b"dlv_k1"),
    ]


@pytest.mark.parametrize(
    "key",
    [
        None,  # kafkaKey not set
        "",  # kafkaKey rendered empty
    ],
)
async def test_no_key_without_kafka_key(
    tansu: Tansu, transport: KafkaTransport, key: str | None
) -> None:
    """Without a key (or with an empty one) the record has no key."""
    name = topic()
    result = await transport.send(message(tansu.bootstrap, name, kafkaKey=key))
    assert result.outcome is SUCCESS, result.error
    (record,) = await consume(tansu.bootstrap, name, 1)
    assert record.key is None


async def test_concurrent_sends_all_arrive_through_one_producer(
    tansu: Tansu, transport: KafkaTransport
) -> None:
    """Many concurrent sends share one producer and none is lost."""
    name = topic()
    results = await asyncio.gather(
        *[
            transport.send(
                message(tansu.bootstrap, name, headers=(("x-mockback-delivery-id", f"dlv_{i}"),))
            )
            for i in range(200)
        ]
    )
    assert {r.outcome for r in results} == {SUCCESS}
    assert transport.open_producers == 1
    records = await consume(tansu.bootstrap, name, 200)
    assert sorted(dict(r.headers)["x-mockback-delivery-id"] for r in records) == sorted(
        f"dlv_{i}".encode() for i in range(200)
    )


async def test_another_configuration_gets_another_producer(
    tansu: Tansu, transport: KafkaTransport
) -> None:
    """Producers are keyed by broker configuration."""
    name = topic()
    for brokers in (tansu.bootstrap, tansu.bootstrap, f"localhost:{tansu.port}"):
        result = await transport.send(message(brokers, name))
        assert result.outcome is SUCCESS, result.error
    assert transport.open_producers == 2


async def test_idle_producers_are_closed(tansu: Tansu) -> None:
    """A producer unused for idle_after seconds is closed; the next send starts a new one."""
    clock = Clock()
    transport = KafkaTransport(idle_after=300, sweep_every=None, clock=clock)
    try:
        assert (await transport.send(message(tansu.bootstrap, topic()))).outcome is SUCCESS
        clock.now += 299
        assert await transport.close_idle() == 0
        clock.now += 2
        assert await transport.close_idle() == 1
        assert transport.open_producers == 0
        assert (await transport.send(message(tansu.bootstrap, topic()))).outcome is SUCCESS
        assert transport.open_producers == 1
    finally:
        await transport.close()


async def test_close_stops_every_producer(tansu: Tansu) -> None:
    """close() stops the producers; sending afterwards is a bug and raises."""
    transport = KafkaTransport(sweep_every=None)
    assert (await transport.send(message(tansu.bootstrap, topic()))).outcome is SUCCESS
    await transport.close()
    assert transport.open_producers == 0
    with pytest.raises(RuntimeError):
        await transport.send(message(tansu.bootstrap, topic()))


async def test_broker_down_is_a_quick_error(transport: KafkaTransport) -> None:
    """Nothing listening: an error naming the broker, well within the timeout."""
    port = free_port()
    started = time.monotonic()
    result = await transport.send(message(f"127.0.0.1:{port}", topic(), timeout=5))
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error == f"could not connect to Kafka broker 127.0.0.1:{port}: Connection refused"
    assert time.monotonic() - started < 2


async def test_hung_broker_times_out_without_blocking_others(
    tansu: Tansu, transport: KafkaTransport
) -> None:
    """A broker that never answers costs each attempt its timeout, and others go on meanwhile."""
    async with Silent() as silent:
        started = time.monotonic()
        hung = asyncio.gather(
            *[
                transport.send(message(f"127.0.0.1:{silent.port}", topic(), timeout=2))
                for _ in range(20)
            ]
        )
        healthy = await transport.send(message(tansu.bootstrap, topic()))
        assert healthy.outcome is SUCCESS
        assert time.monotonic() - started < 1.5  # not held up by the hung attempts
        results = await hung
        assert {r.outcome for r in results} == {AttemptOutcome.TIMEOUT}
        assert time.monotonic() - started < 3.5
        assert silent.connections >= 1


async def test_broker_that_goes_away_fails_within_the_timeout(tansu: Tansu) -> None:
    """After the broker stops, attempts end in error or timeout within their timeout."""
    broker = Tansu()
    transport = KafkaTransport(sweep_every=None)
    try:
        assert (await transport.send(message(broker.bootstrap, topic()))).outcome is SUCCESS
        broker.stop()
        started = time.monotonic()
        result = await transport.send(message(broker.bootstrap, topic(), timeout=2))
        assert result.outcome in (AttemptOutcome.ERROR, AttemptOutcome.TIMEOUT)
        assert time.monotonic() - started < 3
    finally:
        broker.stop()
        await transport.close()


async def test_tls(tansu: Tansu, tls_certs: TlsCerts) -> None:
    """kafkaUseTLS connects over TLS, verifying the broker's certificate."""
    listener = free_port()
    async with BrokerFront(listener, tls=tls_certs.server) as tls_front:
        broker = Tansu(port=listener, advertised_port=tls_front.port)
        transport = KafkaTransport(ssl_context=tls_certs.client, sweep_every=None)
        try:
            name = topic()
            bootstrap = f"localhost:{tls_front.port}"
            result = await transport.send(message(bootstrap, name, kafkaUseTLS=True))
            assert result.outcome is SUCCESS, result.error
            (record,) = await consume(
                bootstrap, name, 1, security_protocol="SSL", ssl_context=tls_certs.client
            )
            assert record.value == b'{"event":"order.created"}'
        finally:
            await transport.close()
            broker.stop()


async def test_tls_certificate_not_trusted(tansu: Tansu, tls_certs: TlsCerts) -> None:
    """A certificate the trust store does not know is an error that says so."""
    async with BrokerFront(tansu.port, tls=tls_certs.server) as tls_front:
        transport = KafkaTransport(sweep_every=None)  # the system's trust store
        try:
            result = await transport.send(
                message(f"localhost:{tls_front.port}", topic(), kafkaUseTLS=True)
            )
        finally:
            await transport.close()
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error is not None
    assert result.error.startswith(
        f"the TLS certificate of Kafka broker localhost:{tls_front.port}"
    )


def test_tls_context_below_1_2_is_refused() -> None:
    """A TLS context that would accept versions older than TLS 1.2 is a configuration error."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with pytest.raises(ValueError, match=r"TLS 1\.2"):
        KafkaTransport(ssl_context=context)


@pytest.mark.parametrize(
    "use_tls",
    [
        False,  # SASL_PLAINTEXT
        True,  # SASL_SSL
    ],
)
async def test_sasl_plain_login(tansu: Tansu, tls_certs: TlsCerts, use_tls: bool) -> None:
    """kafkaUseSASL logs in with SASL/PLAIN as kafkaUsername/kafkaPassword."""
    listener = free_port()
    tls = tls_certs.server if use_tls else None
    async with BrokerFront(listener, tls=tls, kafka_users={"alice": "s3cret-pass"}) as login:
        broker = Tansu(port=listener, advertised_port=login.port)
        transport = KafkaTransport(ssl_context=tls_certs.client, sweep_every=None)
        try:
            name = topic()
            result = await transport.send(
                message(
                    f"localhost:{login.port}",
                    name,
                    kafkaUseTLS=use_tls,
                    kafkaUseSASL=True,
                    kafkaUsername="alice",
                    kafkaPassword="s3cret-pass",
                )
            )
            assert result.outcome is SUCCESS, result.error
            assert login.logins and set(login.logins) == {("alice", True)}
            (record,) = await consume(
                f"localhost:{login.port}",
                name,
                1,
                security_protocol="SASL_SSL" if use_tls else "SASL_PLAINTEXT",
                ssl_context=tls_certs.client if use_tls else None,
                sasl_mechanism="PLAIN",
                sasl_plain_username="alice",
                sasl_plain_password="s3cret-pass",
            )
            assert record.value == b'{"event":"order.created"}'
        finally:
            await transport.close()
            broker.stop()


async def test_wrong_password_never_shows_the_password(tansu: Tansu) -> None:
    """A refused login is an error naming the user, never the password."""
    async with BrokerFront(tansu.port, kafka_users={"alice": "s3cret-pass"}) as login:
        transport = KafkaTransport(sweep_every=None)
        try:
            result = await transport.send(
                message(
                    f"127.0.0.1:{login.port}",
                    topic(),
                    kafkaUseSASL=True,
                    kafkaUsername="alice",
                    kafkaPassword="Wr0ng-Pa55word",
                )
            )
        finally:
            await transport.close()
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error is not None
    assert "Wr0ng-Pa55word" not in result.error
    assert f"Kafka broker 127.0.0.1:{login.port} refused the SASL/PLAIN login of user 'alice'" in (
        result.error
    )
    assert ("alice", False) in login.logins


async def test_refused_bootstrap_broker_is_blocked_before_connecting(tansu: Tansu) -> None:
    """With the default policy a loopback broker is blocked and never connected to."""
    async with BrokerFront(tansu.port) as counted:
        transport = KafkaTransport(
            address_check=address_check(OutboundPolicy(), FakeResolver({})), sweep_every=None
        )
        try:
            result = await transport.send(message(f"127.0.0.1:{counted.port}", topic()))
        finally:
            await transport.close()
    assert result.outcome is AttemptOutcome.BLOCKED
    assert result.error is not None
    assert result.error.startswith(f"Kafka broker 127.0.0.1:{counted.port}: callback address")
    assert counted.connections == 0


async def test_refused_advertised_broker_is_blocked_before_connecting() -> None:
    """A broker the cluster advertises is checked too, and never connected to when refused."""
    listener = free_port()
    async with BrokerFront(listener) as bootstrap, BrokerFront(listener) as advertised:
        broker = Tansu(port=listener, advertised_port=advertised.port)
        # The bootstrap name is allowed by name; the advertised 127.0.0.1 is not.
        policy = OutboundPolicy.from_settings(allow_private=False, allowed_hosts="kafka.test")
        resolver = FakeResolver({"kafka.test": ["127.0.0.1"]})
        transport = KafkaTransport(address_check=address_check(policy, resolver), sweep_every=None)
        try:
            result = await transport.send(message(f"kafka.test:{bootstrap.port}", topic()))
        finally:
            await transport.close()
            broker.stop()
    assert result.outcome is AttemptOutcome.BLOCKED
    assert result.error is not None
    assert f"Kafka broker 127.0.0.1:{advertised.port} advertised by the cluster" in result.error
    assert bootstrap.connections >= 1
    assert advertised.connections == 0


async def test_allowed_brokers_pass_the_policy(tansu: Tansu) -> None:
    """With private addresses allowed, bootstrap and advertised brokers pass."""
    policy = OutboundPolicy(allow_private=True)
    transport = KafkaTransport(
        address_check=address_check(policy, FakeResolver({})), sweep_every=None
    )
    try:
        result = await transport.send(message(tansu.bootstrap, topic()))
    finally:
        await transport.close()
    assert result.outcome is SUCCESS, result.error


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"kafkaBrokers": ""}, "kafkaBrokers names no broker"),  # no broker at all
        ({"kafkaBrokers": "h:x"}, "kafkaBrokers entry 'h:x' has an invalid port"),  # bad port
        ({"kafkaTopic": ""}, "kafkaTopic is empty"),  # topic rendered empty
    ],
)
async def test_unusable_fields_are_errors(
    transport: KafkaTransport, options: dict[str, Any], error: str
) -> None:
    """Fields that name nothing to send to end the attempt in an error that says which."""
    sent = message("127.0.0.1:9092", "t", **options)
    result = await transport.send(sent)
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error == error


async def test_without_aiokafka_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the kafka extra, attempts end in an error saying what to install."""
    monkeypatch.setitem(sys.modules, "aiokafka", None)
    transport = KafkaTransport()
    result = await transport.send(message("127.0.0.1:9092", "t"))
    await transport.close()
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error == MISSING_EXTRA
    assert "pip install 'mockback[kafka]'" in MISSING_EXTRA
