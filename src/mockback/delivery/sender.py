"""One attempt of one delivery: sign, check the outbound policy, hand to the right transport.

Callbacks addressed to this server itself are served in process (no socket, never blocked by
the outbound policy) and still appear in the request and delivery logs.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import urlsplit

from mockback.delivery.broker_policy import BrokerAddressError, check_broker_message, pin
from mockback.delivery.outbound_policy import (
    Decision,
    HostResolutionError,
    OutboundPolicy,
    resolve_and_check,
)
from mockback.delivery.signing import (
    SigningError,
    SigningScheme,
    SigningSpec,
    resolve_secrets,
    sign,
)
from mockback.delivery.transports.base import Transport
from mockback.delivery.transports.http import CONNECT_IP
from mockback.domain.deliveries import (
    AttemptOutcome,
    AttemptResult,
    CallbackType,
    Delivery,
    OutboundMessage,
)
from mockback.domain.requests import RequestSnapshot

DELIVERY_ID_HEADER = "X-Mockback-Delivery-Id"
DEPTH_HEADER = "X-Mockback-Callback-Depth"

LocalHandler = Callable[
    [RequestSnapshot], Awaitable[tuple[int, list[tuple[bytes, bytes]], bytes, float]]
]
"""Serves a request in process: (status, headers, body, delay seconds)."""

StoreReader = Callable[[str], Mapping[str, Any]]
"""The global store of a namespace (for ``$.gS.key`` secrets)."""

_DECISIONS_KEPT = 4096  # (host, port) outbound decisions cached at most
_TARGETS_KEPT = 4096  # parsed callback URLs cached at most

_DecisionKey = tuple[str, str] | tuple[str, str, int]
"""("http", host, port), or (broker type, kafkaBrokers / rabbitURL)."""

_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"})


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for a host."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


def _blocked(started: float, reason: str | None) -> AttemptResult:
    return AttemptResult(
        outcome=AttemptOutcome.BLOCKED,
        duration_ms=(time.perf_counter() - started) * 1000,
        error=reason,
    )


def _failed(started: float, error: str) -> AttemptResult:
    return AttemptResult(
        outcome=AttemptOutcome.ERROR,
        duration_ms=(time.perf_counter() - started) * 1000,
        error=error,
    )


def _http_target(url: str) -> tuple[str, int] | str:
    """(host, port) of an http(s) URL, or the sentence saying why it is not one."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        port = parts.port
    except ValueError:
        return f"callback url {url!r} is not a valid URL (look at its host and port)"
    if parts.scheme not in ("http", "https") or not hostname:
        return f"callback url {url!r} is not an http(s) URL"
    return hostname, port or (443 if parts.scheme == "https" else 80)


def signing_spec(raw: Mapping[str, Any], secrets: tuple[str, ...]) -> SigningSpec:
    """A SigningSpec from a callback's ``signing`` object and its resolved secrets."""
    return SigningSpec(
        scheme=SigningScheme(raw["scheme"]),
        secrets=secrets,
        header=raw.get("header"),
        encoding=raw.get("encoding") or "hex",
        prefix=str(raw["prefix"]) if raw.get("prefix") is not None else "sha256=",
    )


class Sender:
    """Makes attempts; never raises for a target's faults."""

    def __init__(
        self,
        *,
        transports: Mapping[CallbackType, Transport],
        policy: OutboundPolicy,
        environ: Mapping[str, str],
        global_store: StoreReader,
        resolver: Callable[[str, int], Awaitable[list[str]]] = system_resolver,
        clock: Callable[[], float] = time.time,
        decision_ttl: float = 5.0,
    ) -> None:
        self._transports = transports
        self._policy = policy
        self._environ = environ
        self._global_store = global_store
        self._resolver = resolver
        self._clock = clock
        self._local: LocalHandler | None = None
        self._self_hosts: frozenset[tuple[str, int]] = frozenset()
        self._decision_ttl = decision_ttl
        self._decisions: dict[_DecisionKey, tuple[float, Decision]] = {}  # -> (until, decision)
        self._targets: dict[str, tuple[str, int] | str] = {}  # url -> (host, port) or why not

    def serve_locally(self, handler: LocalHandler, host: str, port: int) -> None:
        """Callbacks to host:port (and loopback names when host is loopback) are served in process."""
        hosts = {host.strip("[]").lower()}
        if host in _LOOPBACK_NAMES or host.startswith("127."):
            hosts |= {"127.0.0.1", "localhost", "::1"}
        self._local = handler
        self._self_hosts = frozenset((h, port) for h in hosts)

    def _signature_headers(self, delivery: Delivery) -> list[tuple[str, str]]:
        if not delivery.signing:
            return []
        raw = delivery.signing
        secrets = resolve_secrets(
            raw["secret"], env=self._environ, global_store=self._global_store(delivery.namespace)
        )
        return sign(
            signing_spec(raw, secrets),
            delivery_id=delivery.id,
            timestamp=int(self._clock()),
            body=delivery.request.body,
        )

    def message(
        self, delivery: Delivery, options: Mapping[str, Any] | None = None
    ) -> OutboundMessage:
        """The message of the next attempt (fresh signature timestamp)."""
        headers = list(delivery.request.headers)
        if delivery.type is CallbackType.HTTP:
            headers.append((DELIVERY_ID_HEADER, delivery.id))
            headers.append((DEPTH_HEADER, str(delivery.depth)))
        else:
            headers.append((DELIVERY_ID_HEADER.lower(), delivery.id))
        if delivery.signing:
            headers.extend(self._signature_headers(delivery))
        return OutboundMessage(
            delivery_id=delivery.id,
            type=delivery.type,
            target=delivery.request.url,
            method=delivery.request.method,
            headers=tuple(headers),
            body=delivery.request.body,
            timeout=delivery.timeout,
            options=delivery.options if options is None else options,
        )

    async def _broker(
        self, transport: Transport, message: OutboundMessage, started: float
    ) -> AttemptResult:
        """Kafka and RabbitMQ: every broker address must pass the policy; RabbitMQ is pinned."""
        try:
            decision = await self._decide_broker(message)
        except (BrokerAddressError, OSError) as exc:
            return _failed(started, str(exc))
        if not decision.allowed:
            return _blocked(started, decision.reason)
        return await transport.send(pin(message, decision))

    def attempt(self, delivery: Delivery) -> Coroutine[Any, Any, AttemptResult]:
        """Make one attempt (a coroutine: the transport's own, without one more around it)."""
        started = time.perf_counter()
        if delivery.type is CallbackType.HTTP:
            return self._http(delivery, started)
        return self._other(delivery, started)

    async def _other(self, delivery: Delivery, started: float) -> AttemptResult:
        """Kafka and RabbitMQ, or the sentence saying the type's transport is missing."""
        transport = self._transports.get(delivery.type)
        if transport is None:
            return _failed(
                started,
                f"{delivery.type.value} callbacks are not available: "
                "install mockback with that transport's extra",
            )
        try:
            message = self.message(delivery)
        except (SigningError, KeyError, ValueError) as exc:
            return _failed(started, f"cannot sign the callback: {exc}")
        return await self._broker(transport, message, started)

    async def _http(self, delivery: Delivery, started: float) -> AttemptResult:
        target = self._targets.get(delivery.request.url)
        if target is None:
            target = _http_target(delivery.request.url)
            if len(self._targets) >= _TARGETS_KEPT:
                self._targets.clear()
            self._targets[delivery.request.url] = target
        if isinstance(target, str):
            return _failed(started, target)
        hostname, port = target
        local = self._local is not None and (hostname.lower(), port) in self._self_hosts
        options: Mapping[str, Any] | None = None
        if not local:
            key = ("http", hostname, port)
            decision = self._kept_decision(key)
            if decision is None:
                try:
                    decision = await self._decide(key, hostname, port)
                except (OSError, HostResolutionError) as exc:
                    return _failed(started, f"cannot resolve {hostname!r}: {exc}")
            if not decision.allowed:
                return AttemptResult(
                    outcome=AttemptOutcome.BLOCKED,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    error=decision.reason,
                )
            if decision.address is not None:
                options = {**delivery.options, CONNECT_IP: decision.address}
        try:
            message = self.message(delivery, options)
        except (SigningError, KeyError, ValueError) as exc:
            return _failed(started, f"cannot sign the callback: {exc}")
        if local:
            return await self._in_process(message, started)
        return await self._transports[CallbackType.HTTP].send(message)

    async def _decide(self, key: _DecisionKey, host: str, port: int) -> Decision:
        """The policy's decision for an HTTP target (kept briefly, see ``_kept``)."""
        return await self._kept(
            key, lambda: resolve_and_check(self._policy, host, port, self._resolver)
        )

    async def _decide_broker(self, message: OutboundMessage) -> Decision:
        """The decision for every address a Kafka or RabbitMQ message names (kept briefly)."""
        options = message.options
        addresses = options.get("kafkaBrokers") or options.get("rabbitURL") or ""
        return await self._kept(
            (message.type.value, str(addresses)),
            lambda: check_broker_message(self._policy, message, self._resolver),
        )

    def _kept_decision(self, key: _DecisionKey) -> Decision | None:
        """A decision made for this key less than ``decision_ttl`` seconds ago, if any."""
        cached = self._decisions.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return None

    async def _kept(self, key: _DecisionKey, decide: Callable[[], Awaitable[Decision]]) -> Decision:
        # Decisions are kept a few seconds: the policy is fixed for the process, and a name's
        # checked address is reused only like a short DNS cache (the connection still goes to
        # an address that was checked). Errors are not kept, so they are seen again.
        decision = self._kept_decision(key)
        if decision is not None:
            return decision
        decision = await decide()
        if len(self._decisions) >= _DECISIONS_KEPT:
            self._decisions.clear()
        self._decisions[key] = (time.monotonic() + self._decision_ttl, decision)
        return decision

    async def _in_process(self, message: OutboundMessage, started: float) -> AttemptResult:
        assert self._local is not None
        parts = urlsplit(message.target)
        raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1", "replace"))
            for k, v in message.headers
        ]
        request = RequestSnapshot(
            method=message.method,
            path=parts.path or "/",
            query_string=parts.query,
            raw_headers=raw_headers,
            body=message.body,
            client="in-process",
            received_at=time.time(),
        )
        try:
            async with asyncio.timeout(message.timeout):
                status, headers, body, delay = await self._local(request)
                if delay > 0:
                    # The mock's own response delay counts against the attempt's timeout.
                    await asyncio.sleep(delay)
        except TimeoutError:
            return AttemptResult(
                outcome=AttemptOutcome.TIMEOUT,
                duration_ms=(time.perf_counter() - started) * 1000,
                error=f"no answer within {message.timeout:g} s",
            )
        response_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
        ok = 200 <= status <= 299
        text = body[:65536].decode("utf-8", "replace")
        return AttemptResult(
            outcome=AttemptOutcome.SUCCESS if ok else AttemptOutcome.FAILURE,
            duration_ms=(time.perf_counter() - started) * 1000,
            status_code=status,
            error=None if ok else f"answered {status}",
            response_headers=response_headers,
            response_body=text,
            truncated=len(body) > 65536,
            stop_retrying=status == 410,
        )
