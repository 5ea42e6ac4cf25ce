"""Kafka callbacks through aiokafka producers, one per broker configuration.

Each ``send`` is one attempt: the message's body is the record's value, ``kafkaKey`` its key
(UTF-8; none when empty), and every header but ``Content-Type`` a record header. Success is the
broker's acknowledgement with ``acks=all``: the record was written by the partition leader and
every in-sync replica, so a leader that fails right after answering does not lose it. Every
aiokafka failure is translated here into an ``AttemptOutcome`` with a sentence that never holds
the SASL password.

Producers are pooled by configuration (bootstrap brokers, TLS, SASL user and password), reused
across messages, and closed after ``idle_after`` seconds unused. A producer whose brokers fail
(a timeout, a lost connection) is retired and the next attempt starts a fresh one.

Time: the whole attempt, starting the producer included, is bounded by the message's timeout;
aiokafka's ``start()`` can otherwise wait long for an unreachable broker. A record whose
acknowledgement did not come in time may still be written later (delivery is at least once: a
retry can duplicate it; the ``x-mockback-delivery-id`` header lets consumers drop duplicates).

Outbound policy: given an ``AddressCheck``, the transport checks the bootstrap brokers before a
producer starts, and every broker the cluster advertises before aiokafka connects to it
(through the client's connection hook); a refused broker makes the attempt ``blocked``. Without
TLS the bootstrap connection goes to the checked address; see ``broker_policy`` for what stays
unpinned.

aiokafka is imported on first use: without the ``kafka`` extra the server runs and Kafka
attempts end in an error that says what to install.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from mockback.delivery.broker_policy import (
    AddressCheck,
    BrokerAddress,
    BrokerAddressError,
    default_tls_context,
    require_tls12,
)
from mockback.delivery.broker_policy import kafka_addresses as parse_brokers
from mockback.delivery.outbound_policy import Decision
from mockback.delivery.transports.base import Stopwatch
from mockback.delivery.transports.client_pool import ClientPool, Lease
from mockback.domain.deliveries import AttemptOutcome, AttemptResult, OutboundMessage

MISSING_EXTRA: Final = "Kafka callbacks need the aiokafka package: pip install 'mockback[kafka]'"
_MIN_TIMEOUT: Final = 0.001  # seconds
_DIAGNOSIS_TIMEOUT: Final = 2.0  # seconds, at most, to find out why a bootstrap failed
_CLOSE_TIMEOUT: Final = 5.0  # seconds, at most, to stop one producer


class BrokerRefused(Exception):
    """The outbound policy refused a broker address; the attempt is blocked."""


class BootstrapFailed(Exception):
    """No bootstrap broker could be reached; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerConfig:
    """What two Kafka callbacks must share to share a producer."""

    brokers: tuple[BrokerAddress, ...]  # bootstrap servers, in the order written
    tls: bool = False  # kafkaUseTLS: TLS 1.2 or later, certificates verified
    sasl: bool = False  # kafkaUseSASL: SASL/PLAIN login
    username: str = ""  # kafkaUsername
    password: str = field(default="", repr=False)  # kafkaPassword; never shown

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ProducerConfig:
        """The configuration a message's options ask for; BrokerAddressError if unusable."""
        sasl = _flag(options.get("kafkaUseSASL"))
        return cls(
            brokers=parse_brokers(str(options.get("kafkaBrokers") or "")),
            tls=_flag(options.get("kafkaUseTLS")),
            sasl=sasl,
            username=str(options.get("kafkaUsername") or "") if sasl else "",
            password=str(options.get("kafkaPassword") or "") if sasl else "",
        )

    @property
    def security_protocol(self) -> str:
        """aiokafka's name for the TLS/SASL combination."""
        if self.sasl:
            return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"
        return "SSL" if self.tls else "PLAINTEXT"

    def redact(self, text: str) -> str:
        """``text`` with the password masked (foreign error texts pass through here)."""
        return text.replace(self.password, "***") if self.password else text


class _Producer:
    """A started producer and what its connection guard found."""

    __slots__ = ("guard", "producer")

    def __init__(self, producer: Any, guard: _ConnectionGuard | None) -> None:
        self.producer = producer  # aiokafka.AIOKafkaProducer
        self.guard = guard  # None when the transport checks no addresses

    @property
    def refusal(self) -> str | None:
        """Why a broker of this cluster was refused, if one was."""
        return None if self.guard is None else self.guard.refusal


class _ConnectionGuard:
    """Checks every broker a producer's client connects to; refused brokers stay unconnected."""

    def __init__(self, check: AddressCheck) -> None:
        self._check = check
        self._decisions: dict[tuple[str, int], Decision] = {}
        self.refusal: str | None = None  # the first refusal, as a sentence

    async def judge(self, host: str, port: int) -> Decision:
        """The policy's decision for one broker, asked once per producer."""
        decision = self._decisions.get((host, port))
        if decision is None:
            decision = await self._check(host, port)
            self._decisions[(host, port)] = decision
        return decision

    async def check_cluster(self, client: Any) -> None:
        """Raise BrokerRefused if a broker the cluster advertised is refused."""
        for broker in client.cluster.brokers():
            await self._admit(str(broker.host), int(broker.port))
        if self.refusal is not None:
            raise BrokerRefused(self.refusal)

    def install(self, client: Any) -> None:
        """Route the client's broker connections through the policy."""
        # aiokafka opens every broker connection (not the bootstrap ones) in _get_conn; a
        # refused broker answers "not reachable", so aiokafka never connects to it.
        original = getattr(client, "_get_conn", None)
        if original is None:
            raise RuntimeError(
                "this aiokafka version offers no connection hook to check advertised brokers"
            )

        async def guarded(node_id: Any, *args: Any, **kwargs: Any) -> Any:
            broker = client.cluster.broker_metadata(node_id)
            if broker is not None and not await self._admit(str(broker.host), int(broker.port)):
                return None
            return await original(node_id, *args, **kwargs)

        client._get_conn = guarded

    async def _admit(self, host: str, port: int) -> bool:
        try:
            decision = await self.judge(host, port)
        except OSError:
            return False  # does not resolve: unreachable for now, aiokafka retries later
        if not decision.allowed:
            address = BrokerAddress(host=host, port=port)
            self.refusal = self.refusal or (
                f"Kafka broker {address} advertised by the cluster: {decision.reason}"
            )
            return False
        return True


class KafkaTransport:
    """Sends Kafka callbacks; one instance serves every worker of the process."""

    def __init__(
        self,
        *,
        address_check: AddressCheck | None = None,
        ssl_context: ssl.SSLContext | None = None,
        idle_after: float = 300.0,
        sweep_every: float | None = 30.0,
        clock: Callable[[], float] = time.monotonic,
        client_id: str = "mockback",
        request_timeout: float = 30.0,
    ) -> None:
        """Configure; nothing is opened until the first send.

        ``address_check`` judges bootstrap and advertised brokers (None: no checks);
        ``ssl_context`` is used for ``kafkaUseTLS`` (default: the system's trust store) and
        must not allow less than TLS 1.2; producers unused for ``idle_after`` seconds close;
        ``request_timeout`` bounds aiokafka's own requests (an attempt's timeout bounds it too).
        """
        if ssl_context is not None:
            require_tls12(ssl_context)
        self._check = address_check
        self._ssl_context = ssl_context
        self._client_id = client_id
        self._request_timeout_ms = int(request_timeout * 1000)
        self._pool: ClientPool[ProducerConfig, _Producer] = ClientPool(
            opener=self._open,
            closer=self._close_producer,
            idle_after=idle_after,
            sweep_every=sweep_every,
            clock=clock,
        )
        self._available: bool | None = None

    @property
    def open_producers(self) -> int:
        """How many producers are started or starting."""
        return len(self._pool)

    async def send(self, message: OutboundMessage) -> AttemptResult:
        """One attempt; the brokers' faults come back as outcomes."""
        stopwatch = Stopwatch()
        if not self._library_available():
            return _result(AttemptOutcome.ERROR, stopwatch, MISSING_EXTRA)
        try:
            config = ProducerConfig.from_options(message.options)
        except BrokerAddressError as exc:
            return _result(AttemptOutcome.ERROR, stopwatch, str(exc))
        topic = str(message.options.get("kafkaTopic") or "")
        if not topic:
            return _result(AttemptOutcome.ERROR, stopwatch, "kafkaTopic is empty")
        key_text = message.options.get("kafkaKey")
        key = str(key_text).encode() if key_text else None
        headers = [
            (name, value.encode())
            for name, value in message.headers
            if name.lower() != "content-type"
        ]
        lease: Lease[_Producer] | None = None
        try:
            async with asyncio.timeout(max(message.timeout, _MIN_TIMEOUT)):
                async with self._pool.lease(config, message.timeout) as lease:
                    refusal = lease.client.refusal
                    if refusal is not None:
                        lease.retire()
                        return _result(AttemptOutcome.BLOCKED, stopwatch, refusal)
                    record = await lease.client.producer.send_and_wait(
                        topic, message.body, key=key, headers=headers
                    )
        except TimeoutError:
            return self._timed_out(lease, message.timeout, stopwatch)
        except BrokerRefused as exc:
            return _result(AttemptOutcome.BLOCKED, stopwatch, str(exc))
        except BootstrapFailed as exc:
            return _result(AttemptOutcome.ERROR, stopwatch, config.redact(str(exc)))
        except Exception as exc:
            judged = _judge_error(exc, topic)
            if judged is None:
                raise
            outcome, sentence, broken = judged
            if broken and lease is not None:
                lease.retire()
            return _result(outcome, stopwatch, config.redact(sentence))
        body = orjson.dumps(
            {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        ).decode()
        return AttemptResult(
            outcome=AttemptOutcome.SUCCESS,
            duration_ms=stopwatch.elapsed_ms(),
            response_body=body,
        )

    async def close_idle(self) -> int:
        """Close the producers unused for ``idle_after`` seconds; return how many."""
        return await self._pool.close_idle()

    async def close(self) -> None:
        """Stop every producer; the transport is not used afterwards."""
        await self._pool.close()

    def _library_available(self) -> bool:
        if self._available is None:
            try:
                import aiokafka  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
            except ImportError:
                self._available = False
            else:
                self._available = True
        return self._available

    def _timed_out(
        self, lease: Lease[_Producer] | None, timeout: float, stopwatch: Stopwatch
    ) -> AttemptResult:
        if lease is None:
            return _result(
                AttemptOutcome.TIMEOUT,
                stopwatch,
                f"could not connect to the Kafka brokers within {timeout:g} s",
            )
        lease.retire()
        refusal = lease.client.refusal
        if refusal is not None:
            return _result(AttemptOutcome.BLOCKED, stopwatch, refusal)
        return _result(
            AttemptOutcome.TIMEOUT,
            stopwatch,
            f"no acknowledgement from Kafka within {timeout:g} s",
        )

    async def _open(self, config: ProducerConfig, timeout: float) -> _Producer:
        from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped,unused-ignore]
        from aiokafka.errors import KafkaConnectionError  # type: ignore[import-untyped,unused-ignore]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        guard = None if self._check is None else _ConnectionGuard(self._check)
        bootstrap = list(config.brokers)
        if guard is not None:
            for index, address in enumerate(config.brokers):
                decision = await guard.judge(address.host, address.port)
                if not decision.allowed:
                    raise BrokerRefused(f"Kafka broker {address}: {decision.reason}")
                if not config.tls and decision.address is not None:
                    # Without TLS no certificate needs the name: connect to what was checked.
                    bootstrap[index] = BrokerAddress(host=decision.address, port=address.port)
        tls_context = self._tls_context() if config.tls else None
        producer = AIOKafkaProducer(
            bootstrap_servers=[str(address) for address in bootstrap],
            client_id=self._client_id,
            acks="all",
            enable_idempotence=False,
            request_timeout_ms=self._request_timeout_ms,
            security_protocol=config.security_protocol,
            ssl_context=tls_context,
            sasl_mechanism="PLAIN",
            sasl_plain_username=config.username if config.sasl else None,
            sasl_plain_password=config.password if config.sasl else None,
        )
        try:
            if guard is not None:
                guard.install(producer.client)
            try:
                await asyncio.wait_for(producer.start(), timeout)
            except KafkaConnectionError:
                # aiokafka says only "Unable to bootstrap"; find out why for the sentence.
                remaining = min(deadline - loop.time(), _DIAGNOSIS_TIMEOUT)
                why = await _diagnose(config, bootstrap[0], tls_context, remaining)
                raise BootstrapFailed(why) from None
            if guard is not None:
                await guard.check_cluster(producer.client)
        except BaseException:
            await self._close_producer(_Producer(producer, guard))
            raise
        return _Producer(producer, guard)

    async def _close_producer(self, holder: _Producer) -> None:
        # stop() flushes pending records; bounded so a dead broker cannot hold up shutdown
        # (records still pending then belong to attempts already reported as failed).
        try:
            await asyncio.wait_for(holder.producer.stop(), _CLOSE_TIMEOUT)
        except Exception:
            return

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = default_tls_context()
        return self._ssl_context


async def _diagnose(
    config: ProducerConfig,
    address: BrokerAddress,
    tls_context: ssl.SSLContext | None,
    timeout: float,
) -> str:
    """Why the bootstrap failed, found by one plain connection to the first broker.

    aiokafka reports only "Unable to bootstrap"; the cause (refused, TLS, SASL) is in its log.
    """
    from aiokafka.conn import create_conn  # type: ignore[import-untyped,unused-ignore]

    where = f"Kafka broker {address}"
    generic = f"could not bootstrap from the Kafka brokers ({_brokers_text(config)})"
    if timeout <= 0:
        return generic
    try:
        async with asyncio.timeout(timeout):
            conn = await create_conn(
                address.host,
                address.port,
                client_id="mockback-diagnosis",
                request_timeout_ms=int(timeout * 1000),
                ssl_context=tls_context,
                security_protocol=config.security_protocol,
                sasl_mechanism="PLAIN",
                sasl_plain_username=config.username if config.sasl else None,
                sasl_plain_password=config.password if config.sasl else None,
            )
    except TimeoutError:
        return f"{generic}: {where} did not complete the handshake within {timeout:g} s"
    except ssl.SSLCertVerificationError as exc:
        return f"the TLS certificate of {where} was not accepted: {exc.verify_message}"
    except ssl.SSLError as exc:
        return f"the TLS handshake with {where} failed: {exc.reason or _one_line(exc)}"
    except OSError as exc:
        return f"could not connect to {where}: {_os_reason(exc)}"
    except Exception as exc:
        name = type(exc).__name__
        if name in ("SaslAuthenticationFailed", "AuthenticationFailedError"):
            return (
                f"{where} refused the SASL/PLAIN login of user {config.username!r}: "
                f"{_kafka_text(exc)}"
            )
        if name == "UnsupportedSaslMechanismError":
            return f"{where} does not accept SASL/PLAIN logins"
        if name == "KafkaConnectionError":
            hint = "" if config.tls else " (does it expect TLS? set kafkaUseTLS)"
            return f"{where} closed the connection during the handshake{hint}"
        return f"{generic}: {_kafka_text(exc)}"
    conn.close()
    return f"{generic}: {where} accepts connections, but the producer could not start"


def _judge_error(exc: Exception, topic: str) -> tuple[AttemptOutcome, str, bool] | None:
    """(outcome, sentence, broken producer) for an error while publishing; None for a bug."""
    from aiokafka import errors  # type: ignore[import-untyped,unused-ignore]

    if isinstance(exc, errors.KafkaTimeoutError | errors.RequestTimedOutError):
        return AttemptOutcome.TIMEOUT, f"Kafka did not answer in time: {_kafka_text(exc)}", True
    if isinstance(exc, errors.UnknownTopicOrPartitionError):
        return (
            AttemptOutcome.FAILURE,
            f"topic {topic!r} does not exist on the cluster and was not created",
            False,
        )
    if isinstance(exc, errors.TopicAuthorizationFailedError):
        return AttemptOutcome.FAILURE, f"not authorised to write to topic {topic!r}", False
    if isinstance(exc, errors.MessageSizeTooLargeError):
        return AttemptOutcome.FAILURE, f"the record is too large: {_kafka_text(exc)}", False
    if isinstance(exc, errors.BrokerResponseError):
        return AttemptOutcome.FAILURE, f"the broker refused the record: {_kafka_text(exc)}", False
    if isinstance(exc, errors.KafkaConnectionError | errors.NodeNotReadyError | OSError):
        return AttemptOutcome.ERROR, f"lost the connection to Kafka: {_kafka_text(exc)}", True
    if isinstance(exc, errors.KafkaError):
        return AttemptOutcome.ERROR, f"Kafka client error: {_kafka_text(exc)}", True
    if isinstance(exc, ValueError):
        return AttemptOutcome.ERROR, f"the record could not be built: {_one_line(exc)}", False
    return None


def _result(outcome: AttemptOutcome, stopwatch: Stopwatch, error: str) -> AttemptResult:
    return AttemptResult(outcome=outcome, duration_ms=stopwatch.elapsed_ms(), error=error)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _brokers_text(config: ProducerConfig) -> str:
    return ", ".join(str(address) for address in config.brokers)


def _kafka_text(exc: BaseException) -> str:
    description = getattr(exc, "description", "")
    text = _one_line(exc) or type(exc).__name__
    return f"{text} ({description})" if description and description not in text else text


def _os_reason(error: OSError) -> str:
    if error.errno is not None and error.errno > 0:
        return os.strerror(error.errno)
    return error.strerror or _one_line(error) or type(error).__name__


def _one_line(value: object) -> str:
    return " ".join(str(value).split())
