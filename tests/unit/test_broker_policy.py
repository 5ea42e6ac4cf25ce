"""The outbound policy for brokers: parsing broker addresses, checking all of them, pinning."""

from __future__ import annotations

import dataclasses
import socket
import ssl
from typing import Any

import pytest

from mockback.delivery.broker_policy import (
    CONNECT_IP,
    BrokerAddress,
    BrokerAddressError,
    address_check,
    amqp_address,
    check_addresses,
    check_broker_message,
    kafka_addresses,
    message_addresses,
    pin,
    require_tls12,
)
from mockback.delivery.outbound_policy import Decision, HostResolutionError, OutboundPolicy
from mockback.domain.deliveries import CallbackType, OutboundMessage

DEFAULT = OutboundPolicy()
OPEN_PRIVATE = OutboundPolicy(allow_private=True)


class FakeResolver:
    """Answers from a fixed table and records what it was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers[host]


def kafka(brokers: str) -> OutboundMessage:
    return OutboundMessage(
        delivery_id="dlv_1",
        type=CallbackType.KAFKA,
        target=f"kafka://{brokers}/t",
        options={"kafkaBrokers": brokers, "kafkaTopic": "t"},
    )


def rabbit(url: str) -> OutboundMessage:
    return OutboundMessage(
        delivery_id="dlv_1",
        type=CallbackType.RABBITMQ,
        target="amqp://",
        options={"rabbitURL": url},
    )


def addr(host: str, port: int) -> BrokerAddress:
    return BrokerAddress(host=host, port=port)


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("brokers", "expected"),
    [
        ("kafka:9092", [addr("kafka", 9092)]),  # one broker
        ("kafka", [addr("kafka", 9092)]),  # no port: Kafka's default
        ("k1:9092,k2:9093", [addr("k1", 9092), addr("k2", 9093)]),  # a list, in order
        (" k1:1 , ,k2:2 ", [addr("k1", 1), addr("k2", 2)]),  # spaces and empty entries
        ("10.0.0.5:9092", [addr("10.0.0.5", 9092)]),  # IPv4 literal
        ("[::1]:9092", [addr("::1", 9092)]),  # bracketed IPv6 with port
        ("[fd00::1]", [addr("fd00::1", 9092)]),  # bracketed IPv6 without port
        ("fd00::1", [addr("fd00::1", 9092)]),  # bare IPv6: the whole text is the address
        ("0x7f.1:9092", [addr("0x7f.1", 9092)]),  # odd spelling kept for the policy to judge
    ],
)
def test_kafka_addresses(brokers: str, expected: list[BrokerAddress]) -> None:
    """kafkaBrokers is read as the Kafka client reads it."""
    assert list(kafka_addresses(brokers)) == expected


@pytest.mark.parametrize(
    ("brokers", "error"),
    [
        ("", "kafkaBrokers names no broker"),  # nothing
        (" , ", "kafkaBrokers names no broker"),  # only separators
        ("k:", "kafkaBrokers entry 'k:' has an empty port"),  # colon, no port
        ("k:abc", "kafkaBrokers entry 'k:abc' has an invalid port"),  # not a number
        ("k:0", "kafkaBrokers entry 'k:0' has an invalid port"),  # port 0
        ("k:65536", "kafkaBrokers entry 'k:65536' has an invalid port"),  # too large
        ("PLAINTEXT://k:9092", "kafkaBrokers entry 'PLAINTEXT://k:9092' is not host:port"),  # URL
        ("[::1", "kafkaBrokers entry '[::1' is not host:port"),  # unclosed bracket
        ("[::1]9092", "kafkaBrokers entry '[::1]9092' is not host:port"),  # no colon after ]
        ("[::1]:", "kafkaBrokers entry '[::1]:' has an empty port"),  # bracket, empty port
        ("a:b:c", "kafkaBrokers entry 'a:b:c' is not host:port"),  # colons, not IPv6
        ("user@k:9092", "kafkaBrokers entry 'user@k:9092' is not host:port"),  # credentials
    ],
)
def test_bad_kafka_addresses(brokers: str, error: str) -> None:
    """A broker list that names no valid address says which entry and why."""
    with pytest.raises(BrokerAddressError) as caught:
        kafka_addresses(brokers)
    assert str(caught.value) == error


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("amqp://guest:guest@rabbit:5672/", addr("rabbit", 5672)),  # explicit port
        ("amqp://rabbit/", addr("rabbit", 5672)),  # amqp default port
        ("amqps://rabbit/vh", addr("rabbit", 5671)),  # amqps default port
        ("AMQP://Rabbit.Example/", addr("rabbit.example", 5672)),  # case folded
        ("amqp://u:p@[::1]:5673/", addr("::1", 5673)),  # IPv6 literal
    ],
)
def test_amqp_address(url: str, expected: BrokerAddress) -> None:
    """The AMQP URL's host and port, with the scheme's default port."""
    assert amqp_address(url) == expected


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://rabbit/", "rabbitURL must start with amqp:// or amqps://"),  # other scheme
        ("amqp:///vh", "rabbitURL names no host"),  # no host
        ("amqp://rabbit:99999/", "rabbitURL is not a valid URL (bad host or port)"),  # bad port
        ("", "rabbitURL must start with amqp:// or amqps://"),  # empty
    ],
)
def test_bad_amqp_address(url: str, error: str) -> None:
    """A URL that names no AMQP server says why, without echoing credentials."""
    with pytest.raises(BrokerAddressError) as caught:
        amqp_address(url)
    assert str(caught.value) == error


def test_broker_address_text() -> None:
    """Addresses print as host:port, IPv6 in brackets."""
    assert str(addr("kafka", 9092)) == "kafka:9092"
    assert str(addr("::1", 9092)) == "[::1]:9092"


def test_message_addresses_by_type() -> None:
    """Kafka messages name their bootstrap servers, RabbitMQ messages their server."""
    assert message_addresses(kafka("a:1,b:2")) == (addr("a", 1), addr("b", 2))
    assert message_addresses(rabbit("amqp://r/")) == (addr("r", 5672),)
    http = OutboundMessage(delivery_id="d", type=CallbackType.HTTP, target="http://x/")
    with pytest.raises(ValueError, match="not broker callbacks"):
        message_addresses(http)


# --- checking ---------------------------------------------------------------------------------


async def test_every_kafka_broker_must_be_allowed() -> None:
    """One refused broker refuses the attempt, naming that broker."""
    resolver = FakeResolver({"public.example": ["93.184.216.34"], "inner": ["10.0.0.7"]})
    decision = await check_broker_message(
        DEFAULT, kafka("public.example:9092,inner:9093"), resolver
    )
    assert not decision.allowed
    assert decision.reason == (
        "broker inner:9093: callback address 10.0.0.7 (resolved from 'inner') is private; "
        "set ALLOW_PROXY_TO_PRIVATE_IPS=true or WEBHOOK_ALLOWED_HOSTS=inner to allow it"
    )
    assert resolver.calls == [("public.example", 9092), ("inner", 9093)]


async def test_all_allowed_names_the_first_address() -> None:
    """When every broker passes, the decision carries the first broker's checked address."""
    resolver = FakeResolver({"k1": ["93.184.216.34"], "k2": ["93.184.216.35"]})
    decision = await check_broker_message(DEFAULT, kafka("k1,k2"), resolver)
    assert decision == Decision(allowed=True, address="93.184.216.34", reason=None)


@pytest.mark.parametrize(
    ("policy", "url", "allowed"),
    [
        (DEFAULT, "amqp://guest:guest@127.0.0.1:5672/", False),  # loopback refused by default
        (OPEN_PRIVATE, "amqp://guest:guest@127.0.0.1:5672/", True),  # opened by the setting
        (DEFAULT, "amqp://guest:guest@0x7f.1/", False),  # hex spelling of loopback
        (OPEN_PRIVATE, "amqps://u:p@169.254.169.254/", False),  # metadata stays refused
        (DEFAULT, "amqp://93.184.216.34/", True),  # public
    ],
)
async def test_amqp_host_is_checked(policy: OutboundPolicy, url: str, allowed: bool) -> None:
    """The AMQP server's address is judged by the same policy as HTTP targets."""
    decision = await check_broker_message(policy, rabbit(url), FakeResolver({}))
    assert decision.allowed is allowed


class FailingResolver:
    """Fails like getaddrinfo for a name that does not exist."""

    async def __call__(self, host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.mark.parametrize(
    ("resolver", "error"),
    [
        # the name resolves to no address at all
        (FakeResolver({"gone.example": []}), "it resolved to no address"),
        # the resolver fails
        (FailingResolver(), "Name or service not known"),
    ],
)
async def test_resolution_failure_names_the_broker(resolver: Any, error: str) -> None:
    """A host that does not resolve is a connection failure naming the broker, not a refusal."""
    with pytest.raises(HostResolutionError) as caught:
        await check_broker_message(DEFAULT, rabbit("amqp://gone.example/"), resolver)
    assert str(caught.value) == f"cannot resolve broker gone.example:5672: {error}"


async def test_bad_address_raises_address_error() -> None:
    """Nothing to check is a callback error."""
    with pytest.raises(BrokerAddressError):
        await check_broker_message(DEFAULT, kafka(""), FakeResolver({}))
    with pytest.raises(BrokerAddressError):
        await check_addresses(DEFAULT, (), FakeResolver({}))


async def test_address_check_applies_the_policy() -> None:
    """address_check judges one host and port with the policy and resolver it was given."""
    resolver = FakeResolver({"kafka.internal": ["10.1.2.3"]})
    check = address_check(DEFAULT, resolver)
    refused = await check("kafka.internal", 9092)
    assert not refused.allowed
    opened = address_check(OPEN_PRIVATE, resolver)
    assert (await opened("kafka.internal", 9092)).address == "10.1.2.3"
    assert resolver.calls == [("kafka.internal", 9092), ("kafka.internal", 9092)]


# --- pinning ----------------------------------------------------------------------------------


def test_pin_rabbitmq_to_the_checked_address() -> None:
    """A RabbitMQ message is pinned to the checked address; nothing else changes."""
    # Every field away from its default, so a field the pinned copy dropped would show.
    message = dataclasses.replace(
        rabbit("amqp://rabbit.example/"),
        method="PUBLISH",
        headers=(("x-mockback-delivery-id", "dlv_1"),),
        body=b"{}",
        timeout=3.0,
    )
    pinned = pin(message, Decision(allowed=True, address="93.184.216.34", reason=None))
    assert pinned.options[CONNECT_IP] == "93.184.216.34"
    assert pinned.options["rabbitURL"] == "amqp://rabbit.example/"
    assert CONNECT_IP not in message.options
    assert dataclasses.replace(pinned, options=message.options) == message


def test_pin_leaves_kafka_alone() -> None:
    """Kafka messages are not pinned (the Kafka client connects by name)."""
    message = kafka("k:9092")
    assert pin(message, Decision(allowed=True, address="93.184.216.34", reason=None)) is message


# --- TLS --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minimum", "accepted"),
    [
        (ssl.TLSVersion.MINIMUM_SUPPORTED, False),  # whatever the library allows
        (ssl.TLSVersion.TLSv1_2, True),  # the floor
        (ssl.TLSVersion.TLSv1_3, True),  # stricter is fine
    ],
)
def test_require_tls12(minimum: ssl.TLSVersion, accepted: bool) -> None:
    """Broker TLS contexts must not accept versions older than TLS 1.2."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = minimum
    if accepted:
        require_tls12(context)
    else:
        with pytest.raises(ValueError, match=r"TLS 1\.2"):
            require_tls12(context)
