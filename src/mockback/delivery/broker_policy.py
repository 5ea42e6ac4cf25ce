"""The outbound policy for broker callbacks: which Kafka and RabbitMQ addresses may be reached.

Broker callbacks obey the same policy as HTTP ones (``outbound_policy``): every address a
callback names is resolved and checked, and one refused address refuses the attempt.

* RabbitMQ: the host of ``rabbitURL``. ``pin`` puts the checked address in the message
  (``connect_ip``) and the RabbitMQ transport connects to exactly that address, so no DNS answer
  can change between the check and the connection; TLS still verifies the URL's host name.
* Kafka: every entry of ``kafkaBrokers`` (the bootstrap servers). A Kafka client then connects to
  the brokers' *advertised listeners*, which the cluster names in its metadata; those are
  checked too, by the Kafka transport when given an ``AddressCheck``, before any connection is
  made to them. The Kafka client resolves names itself when it connects, so for Kafka the check
  is not pinned: a name whose DNS answer changes between the check and the connection (DNS
  rebinding) is not caught. Brokers named by IP address, or names the operator controls, close
  that gap.

TLS (``kafkaUseTLS``, ``amqps://``) means TLS 1.2 or later with certificates and host names
verified: ``default_tls_context`` builds that from the system's trust store, and
``require_tls12`` refuses a context configured otherwise.

Parsing follows the clients: ``host``, ``host:port`` and ``[v6]:port`` for Kafka (port 9092 by
default), and ``amqp://`` (5672) or ``amqps://`` (5671) URLs for RabbitMQ.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from mockback.delivery.outbound_policy import (
    Decision,
    HostResolutionError,
    OutboundPolicy,
    Resolver,
    parse_host_literal,
    resolve_and_check,
)
from mockback.delivery.transports.http import CONNECT_IP
from mockback.domain.deliveries import CallbackType, OutboundMessage

__all__ = [
    "AMQP_DEFAULT_PORTS",
    "CONNECT_IP",
    "KAFKA_DEFAULT_PORT",
    "AddressCheck",
    "BrokerAddress",
    "BrokerAddressError",
    "address_check",
    "amqp_address",
    "check_addresses",
    "check_broker_message",
    "default_tls_context",
    "kafka_addresses",
    "message_addresses",
    "pin",
    "require_tls12",
]

KAFKA_DEFAULT_PORT: Final = 9092
AMQP_DEFAULT_PORTS: Final = {"amqp": 5672, "amqps": 5671}

_WEAK_TLS: Final = frozenset(
    {
        ssl.TLSVersion.MINIMUM_SUPPORTED,
        ssl.TLSVersion.SSLv3,
        ssl.TLSVersion.TLSv1,
        ssl.TLSVersion.TLSv1_1,
    }
)

AddressCheck = Callable[[str, int], Awaitable[Decision]]
"""Judges one ``host, port`` a client is about to connect to; resolver errors propagate."""


class BrokerAddressError(ValueError):
    """A broker list or AMQP URL that names no valid address: a callback error, not a refusal."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerAddress:
    """One broker a callback connects to."""

    host: str  # a name or an IP literal, without brackets
    port: int  # TCP port

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def kafka_addresses(brokers: str) -> tuple[BrokerAddress, ...]:
    """The bootstrap servers of a ``kafkaBrokers`` value, in order."""
    found: list[BrokerAddress] = []
    for entry in brokers.split(","):
        text = entry.strip()
        if text:
            found.append(_kafka_address(text))
    if not found:
        raise BrokerAddressError("kafkaBrokers names no broker")
    return tuple(found)


def amqp_address(url: str) -> BrokerAddress:
    """The server an ``amqp://`` or ``amqps://`` URL connects to."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BrokerAddressError("rabbitURL is not a valid URL (bad host or port)") from None
    default = AMQP_DEFAULT_PORTS.get(parts.scheme.lower())
    if default is None:
        raise BrokerAddressError("rabbitURL must start with amqp:// or amqps://")
    if not parts.hostname:
        raise BrokerAddressError("rabbitURL names no host")
    return BrokerAddress(host=parts.hostname, port=port or default)


def message_addresses(message: OutboundMessage) -> tuple[BrokerAddress, ...]:
    """Every address a broker message names (Kafka bootstrap servers, or the AMQP server)."""
    if message.type is CallbackType.KAFKA:
        return kafka_addresses(str(message.options.get("kafkaBrokers") or ""))
    if message.type is CallbackType.RABBITMQ:
        return (amqp_address(str(message.options.get("rabbitURL") or "")),)
    raise ValueError(f"{message.type.value} callbacks are not broker callbacks")


def address_check(policy: OutboundPolicy, resolver: Resolver) -> AddressCheck:
    """An ``AddressCheck`` applying ``policy``, resolving names with ``resolver``."""

    async def check(host: str, port: int) -> Decision:
        return await resolve_and_check(policy, host, port, resolver)

    return check


async def check_addresses(
    policy: OutboundPolicy, addresses: tuple[BrokerAddress, ...], resolver: Resolver
) -> Decision:
    """Allowed only when every address is; the first refusal otherwise.

    An allowed decision names the checked IP of the first address. A name that does not
    resolve raises HostResolutionError naming the broker: a connection failure, not a refusal.
    """
    first: Decision | None = None
    for address in addresses:
        try:
            decision = await resolve_and_check(policy, address.host, address.port, resolver)
        except OSError as exc:
            raise HostResolutionError(f"cannot resolve broker {address}: {_reason(exc)}") from exc
        if not decision.allowed:
            return _naming(decision, address)
        first = first or decision
    if first is None:
        raise BrokerAddressError("no broker address to check")
    return first


async def check_broker_message(
    policy: OutboundPolicy, message: OutboundMessage, resolver: Resolver
) -> Decision:
    """Judge every address a Kafka or RabbitMQ message names; raise BrokerAddressError if none."""
    return await check_addresses(policy, message_addresses(message), resolver)


def pin(message: OutboundMessage, decision: Decision) -> OutboundMessage:
    """The message to send after an allowed decision: RabbitMQ connects to the checked address.

    Kafka messages come back unchanged: the Kafka client connects by name (see the module).
    """
    if message.type is not CallbackType.RABBITMQ or decision.address is None:
        return message
    # Made afresh rather than with dataclasses.replace, which costs several times more and
    # runs once per message here.
    return OutboundMessage(
        delivery_id=message.delivery_id,
        type=message.type,
        target=message.target,
        method=message.method,
        headers=message.headers,
        body=message.body,
        timeout=message.timeout,
        options={**message.options, CONNECT_IP: decision.address},
    )


def default_tls_context() -> ssl.SSLContext:
    """TLS for broker connections: the system's trust store, host names verified, TLS 1.2+."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def require_tls12(context: ssl.SSLContext) -> None:
    """Raise ValueError if ``context`` would accept a TLS version older than 1.2."""
    if context.minimum_version in _WEAK_TLS:
        raise ValueError("a broker TLS context must require TLS 1.2 or later")


def _kafka_address(text: str) -> BrokerAddress:
    host, port_text = text, ""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise BrokerAddressError(f"kafkaBrokers entry {text!r} is not host:port")
        port_text = rest[1:]
        if rest and not port_text:
            raise BrokerAddressError(f"kafkaBrokers entry {text!r} has an empty port")
    elif text.count(":") > 1:
        # A bare IPv6 literal, as the Kafka client reads it (no port possible without brackets).
        if parse_host_literal(text) is None:
            raise BrokerAddressError(f"kafkaBrokers entry {text!r} is not host:port")
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
        if not port_text:
            raise BrokerAddressError(f"kafkaBrokers entry {text!r} has an empty port")
    if not host or "/" in host or "@" in host or any(c.isspace() for c in host):
        raise BrokerAddressError(f"kafkaBrokers entry {text!r} is not host:port")
    port = KAFKA_DEFAULT_PORT
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise BrokerAddressError(f"kafkaBrokers entry {text!r} has an invalid port")
        port = int(port_text)
    return BrokerAddress(host=host, port=port)


def _reason(exc: OSError) -> str:
    if isinstance(exc, HostResolutionError):
        return "it resolved to no address"
    return exc.strerror or " ".join(str(exc).split()) or type(exc).__name__


def _naming(decision: Decision, address: BrokerAddress) -> Decision:
    # The policy's sentence names the address; say which broker entry it came from.
    reason = f"broker {address}: {decision.reason}" if decision.reason else None
    return dataclasses.replace(decision, reason=reason)
