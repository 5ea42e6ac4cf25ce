"""HTTP webhooks over one shared aiohttp session.

One ``ClientSession`` per transport, made lazily inside the running loop, with a bounded
``TCPConnector`` so kept-alive connections are reused across deliveries. Each ``send`` is one
attempt: the message's method, URL, headers and body go out unchanged, the answer is judged, and
every aiohttp failure is translated here into an ``AttemptOutcome`` with a sentence (the target's
faults never escape as exceptions).

What goes on the wire: the caller's headers, plus only what HTTP framing needs (``Host``,
``Content-Length``). aiohttp's own defaults (``Content-Type: application/octet-stream`` for byte
bodies, ``Accept``, ``Accept-Encoding``, ``User-Agent``) are suppressed, so the delivery log's
"request as sent" is the request sent. The session keeps no cookies (a cookie set by one target
must not ride along to the next delivery) and ignores proxy settings from the environment (the
outbound policy checks the address actually connected to).

Judging: 2xx is success; 1xx/3xx/4xx/5xx are failures with the status (redirects are never
followed); 410 stops retrying; ``Retry-After`` on 429/503 is parsed into seconds. The attempt's
whole exchange, including waiting for a pooled connection and reading the body, is bounded by
the message's timeout.

Pinned addresses: the outbound policy resolves a host, checks every address and passes the one
it checked as ``options["connect_ip"]``. The connector's resolver answers with that address for
the attempt (through a context variable set around the request), so the connection goes there
while the URL's host stays in ``Host`` and in TLS SNI and certificate checks. The connector's DNS
cache is off so one attempt's pin cannot answer for another. Pooled connections are keyed by
host, port and TLS; a kept-alive connection therefore leads to an address checked when it was
opened.
"""

from __future__ import annotations

import contextvars
import functools
import ipaddress
import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Final, Protocol

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from mockback.delivery.retry import parse_retry_after
from mockback.delivery.transports.base import Stopwatch
from mockback.domain.deliveries import AttemptOutcome, AttemptResult, OutboundMessage

CONNECT_IP: Final = "connect_ip"  # options key: the checked address to connect to

# aiohttp adds these unless told not to; the caller renders every header it wants sent.
_SKIPPED_AUTO_HEADERS: Final = ("Content-Type", "Accept", "Accept-Encoding", "User-Agent")

_MIN_TIMEOUT: Final = 0.001  # seconds
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
_NUMERIC_FLAGS: Final = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV

# The address pinned for the attempt running in the current task; None means "resolve normally".
_PINNED_ADDRESS: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mockback_pinned_address", default=None
)


class ConnectorFactory(Protocol):
    """Builds the session's connector; it must use the resolver it is given."""

    def __call__(self, *, resolver: AbstractResolver, limit: int) -> aiohttp.BaseConnector: ...


def default_connector(*, resolver: AbstractResolver, limit: int) -> aiohttp.BaseConnector:
    """A TCP connector with ``limit`` connections in all and no DNS cache (pins vary)."""
    return aiohttp.TCPConnector(limit=limit, resolver=resolver, use_dns_cache=False)


class PinningResolver(AbstractResolver):
    """Answers with the current attempt's pinned address, or asks the fallback resolver."""

    def __init__(self, fallback: AbstractResolver) -> None:
        self._fallback = fallback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        pinned = _PINNED_ADDRESS.get()
        if pinned is None:
            return await self._fallback.resolve(host, port, family)
        address = ipaddress.ip_address(pinned)
        return [
            {
                "hostname": host,
                "host": str(address),
                "port": port,
                "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": _NUMERIC_FLAGS,
            }
        ]

    async def close(self) -> None:
        await self._fallback.close()


@functools.lru_cache(maxsize=1024)
def _checked_address(text: str) -> None:
    """Raise ValueError unless ``text`` is an IP address (remembered: pins repeat)."""
    ipaddress.ip_address(text)


class HttpTransport:
    """Sends HTTP callbacks; one instance serves every worker of the process."""

    def __init__(
        self,
        *,
        pool_limit: int = 100,
        body_cap: int = 65536,
        connector_factory: ConnectorFactory | None = None,
        resolver: AbstractResolver | None = None,
    ) -> None:
        """Configure; nothing is opened until the first send, inside the running loop.

        ``pool_limit`` bounds open connections (keep it at least the number of workers, or
        attempts wait for a connection within their timeout); ``body_cap`` bounds the kept
        answer body in bytes; ``connector_factory`` builds the connector (TLS settings, say)
        and must use the resolver it is given; ``resolver`` answers for hosts sent without a
        pinned address (default: getaddrinfo in a thread). The transport closes it.
        """
        if pool_limit < 1:
            raise ValueError(f"pool_limit must be at least 1, not {pool_limit}")
        if body_cap < 0:
            raise ValueError(f"body_cap must be 0 or more, not {body_cap}")
        self._pool_limit = pool_limit
        self._body_cap = body_cap
        self._connector_factory = connector_factory or default_connector
        self._fallback_resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._resolver: AbstractResolver | None = None
        self._closed = False

    async def send(self, message: OutboundMessage) -> AttemptResult:
        """One attempt; the target's faults come back as outcomes."""
        stopwatch = Stopwatch()
        pinned = message.options.get(CONNECT_IP)
        if pinned is not None:
            _checked_address(pinned)  # a caller bug, not a target fault: let it raise
        session = self._session or self._open()
        status: int | None = None
        token = _PINNED_ADDRESS.set(pinned)
        try:
            async with session.request(
                message.method,
                message.target,
                headers=message.headers,
                data=message.body or None,
                # aiohttp reads a zero total as "no limit"; an attempt always has one.
                timeout=aiohttp.ClientTimeout(total=max(message.timeout, _MIN_TIMEOUT)),
                allow_redirects=False,
            ) as response:
                status = response.status
                headers = _lower_case_headers(response.headers)
                body, truncated = await self._read_capped(response)
                reason = response.reason
        except TimeoutError:
            return AttemptResult(
                outcome=AttemptOutcome.TIMEOUT,
                duration_ms=stopwatch.elapsed_ms(),
                status_code=status,
                error=f"no complete answer within {message.timeout:g} s",
            )
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # ValueError: aiohttp refuses to build the request (header injection, bad method).
            return AttemptResult(
                outcome=AttemptOutcome.ERROR,
                duration_ms=stopwatch.elapsed_ms(),
                status_code=status,
                error=describe_error(exc),
            )
        finally:
            _PINNED_ADDRESS.reset(token)
        return _judge(
            status=status,
            reason=reason,
            headers=headers,
            body=body,
            truncated=truncated,
            duration_ms=stopwatch.elapsed_ms(),
        )

    async def close(self) -> None:
        """Close pooled connections and the resolver."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        # A connector does not close a resolver it was given; the transport made this one.
        resolver, self._resolver = self._resolver, None
        if resolver is not None:
            await resolver.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the HTTP transport is closed")
        resolver = PinningResolver(self._fallback_resolver or aiohttp.ThreadedResolver())
        connector = self._connector_factory(resolver=resolver, limit=self._pool_limit)
        if isinstance(connector, aiohttp.TCPConnector) and connector.use_dns_cache:
            raise ValueError("the connector must not cache DNS answers: pins vary per attempt")
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=_SKIPPED_AUTO_HEADERS,
            trust_env=False,
        )
        self._resolver = resolver
        return self._session

    async def _read_capped(self, response: aiohttp.ClientResponse) -> tuple[str, bool]:
        # Reading one byte past the cap tells a body of exactly cap bytes from a longer one;
        # leaving the rest unread makes aiohttp close that connection instead of pooling it.
        cap = self._body_cap
        chunks: list[bytes] = []
        size = 0
        while size <= cap:
            chunk = await response.content.read(cap + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
        return data[:cap].decode("utf-8", errors="replace"), size > cap


def _judge(
    *,
    status: int,
    reason: str | None,
    headers: Mapping[str, str],
    body: str,
    truncated: bool,
    duration_ms: float,
) -> AttemptResult:
    if 200 <= status <= 299:
        return AttemptResult(
            outcome=AttemptOutcome.SUCCESS,
            duration_ms=duration_ms,
            status_code=status,
            response_headers=headers,
            response_body=body,
            truncated=truncated,
        )
    retry_after = None
    if status in _RETRY_AFTER_STATUSES and "retry-after" in headers:
        retry_after = parse_retry_after(headers["retry-after"], datetime.now(UTC))
    return AttemptResult(
        outcome=AttemptOutcome.FAILURE,
        duration_ms=duration_ms,
        status_code=status,
        error=_failure_sentence(status, reason, headers),
        response_headers=headers,
        response_body=body,
        truncated=truncated,
        retry_after=retry_after,
        stop_retrying=status == HTTPStatus.GONE,
    )


def _failure_sentence(status: int, reason: str | None, headers: Mapping[str, str]) -> str:
    answered = f"the target answered {status} {reason or _phrase(status)}".rstrip()
    if status == HTTPStatus.GONE:
        return f"{answered}: the endpoint is gone, no more attempts"
    if 300 <= status <= 399:
        location = headers.get("location")
        where = f" to {location}" if location else ""
        return f"{answered} (a redirect{where}); redirects are not followed"
    return answered


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _lower_case_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def describe_error(exc: BaseException) -> str:
    """One sentence saying why an attempt could not talk to its target."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"could not resolve {exc.host}: {_os_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"the TLS certificate of {exc.host} was not accepted: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return f"the TLS handshake with {exc.host}:{exc.port} failed: {_os_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"could not connect to {exc.host}:{exc.port}: {_os_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the target closed the connection before answering completely"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"the answer's body was malformed or cut short: {_one_line(exc)}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"the target's answer is not valid HTTP: {_one_line(exc.message)}"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"the URL {exc.url} is not a valid http(s) URL"
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return f"the URL {exc} is not an http(s) URL"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"TLS failed: {exc}"
    if isinstance(exc, OSError):
        return f"the connection failed: {_os_reason(exc)}"
    if isinstance(exc, aiohttp.ClientError):
        return f"the HTTP exchange failed: {type(exc).__name__}: {_one_line(exc)}"
    return f"the request could not be sent: {_one_line(exc)}"


def _os_reason(error: OSError) -> str:
    # asyncio's connect errors carry "Connect call failed (...)" as text; the errno says more.
    if error.errno is not None and error.errno > 0:
        return os.strerror(error.errno)
    return error.strerror or _one_line(error) or type(error).__name__


def _one_line(value: object) -> str:
    return " ".join(str(value).split())
