"""HTTP webhooks over pooled keep-alive connections (``http_wire``: asyncio + httptools).

Each ``send`` is one attempt: the message's method, URL, headers and body go out unchanged, the
answer is judged, and every failure is translated here into an ``AttemptOutcome`` with a
sentence (the target's faults never escape as exceptions).

What goes on the wire: the caller's headers, plus only what HTTP framing needs (``Host``, unless
the caller set one, and ``Content-Length`` when there is a body or the method carries one). No
``Content-Type``, ``Accept``, ``Accept-Encoding`` or ``User-Agent`` of a client library's is
added, so the delivery log's "request as sent" is the request sent. Credentials in the URL
(``https://user:pass@host/``) become an ``Authorization: Basic`` header unless the caller set
one. Nothing is remembered between deliveries: no cookies, no proxy from the environment (the
outbound policy checks the address actually connected to). The URL is encoded as a browser
would (spaces and non-ASCII characters percent-encoded, an international host name in IDNA).

Judging: 2xx is success; 1xx/3xx/4xx/5xx are failures with the status (redirects are never
followed); 410 stops retrying; ``Retry-After`` on 429/503 is parsed into seconds. The attempt's
whole exchange, including waiting for a pooled connection, resolving, connecting, the TLS
handshake and reading the body, is bounded by the message's timeout.

Pinned addresses: the outbound policy resolves a host, checks every address and passes the one
it checked as ``options["connect_ip"]``. The connection goes to that address while the URL's
host stays in ``Host`` and in TLS SNI and certificate checks. Pooled connections are keyed by
TLS, host, port and that address, so a kept-alive connection always leads to an address that was
checked.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import os
import re
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Final, NamedTuple

from yarl import URL

from mockback.delivery.retry import parse_retry_after
from mockback.delivery.transports.base import Stopwatch
from mockback.delivery.transports.http_wire import (
    Answer,
    CertificateError,
    ConnectError,
    ConnectionPool,
    Disconnected,
    ExchangeError,
    HandshakeError,
    MalformedBody,
    NotHttp,
    ResolveError,
    Resolver,
    SystemResolver,
)
from mockback.domain.deliveries import AttemptOutcome, AttemptResult, OutboundMessage

CONNECT_IP: Final = "connect_ip"  # options key: the checked address to connect to

_MIN_TIMEOUT: Final = 0.001  # seconds
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})  # Content-Length: 0 when empty
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Headers the request's framing depends on: checked, not passed through blindly.
_SPECIAL: Final = frozenset({"host", "authorization", "content-length", "transfer-encoding"})


class Unsendable(ExchangeError):
    """The request cannot be put on the wire as given."""


class BadUrl(ExchangeError):
    """The target is not a usable http(s) URL."""

    def __init__(self, url: str, *, http: bool) -> None:
        super().__init__(url, http)
        self.url = url
        self.http = http  # the scheme was http(s), the rest was not usable


class _Target(NamedTuple):
    """What a URL says about where and what to ask (parsed once per distinct URL)."""

    tls: bool
    host: str  # IDNA, no brackets
    port: int
    host_header: str  # host[:port], brackets around IPv6
    path: str  # path and query, percent-encoded
    authorization: str | None  # from credentials in the URL


@functools.lru_cache(maxsize=1024)
def _target(url: str) -> _Target:
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        raise BadUrl(url, http=True) from None
    if parsed.scheme not in ("http", "https"):
        raise BadUrl(url, http=False)
    host = parsed.raw_host
    port = parsed.port
    if not host or port is None:
        raise BadUrl(url, http=True)
    authorization = None
    if parsed.user is not None:
        pair = f"{parsed.user}:{parsed.password or ''}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return _Target(
        tls=parsed.scheme == "https",
        host=host,
        port=port,
        host_header=parsed.host_port_subcomponent or host,
        path=parsed.raw_path_qs or "/",
        authorization=authorization,
    )


@functools.lru_cache(maxsize=1024)
def _checked_address(text: str) -> str:
    """The address in its normal spelling; ValueError unless ``text`` is an IP address."""
    return str(ipaddress.ip_address(text))


@functools.lru_cache(maxsize=1024)
def _header_name(name: str) -> str:
    """The name lower-cased; Unsendable unless it is an HTTP token (remembered: names repeat)."""
    if not _TOKEN.fullmatch(name):
        raise Unsendable(f"the header name {name!r} is not an HTTP token")
    return name.lower()


def _request_head(message: OutboundMessage, target: _Target) -> bytes:
    method = message.method
    if method not in _BODY_METHODS and not _TOKEN.fullmatch(method):
        raise Unsendable(f"the method {method!r} is not an HTTP token")
    lines = [f"{method} {target.path} HTTP/1.1"]
    length = len(message.body)
    has_host = has_authorization = has_length = False
    for name, value in message.headers:
        lowered = _header_name(name)
        if "\r" in value or "\n" in value or "\x00" in value:
            raise Unsendable(f"the value of header {name} holds a line break or NUL")
        if lowered in _SPECIAL:
            if lowered == "host":
                has_host = True
            elif lowered == "authorization":
                has_authorization = True
            elif lowered == "content-length" and value.strip() == str(length):
                has_length = True
            elif lowered == "content-length":
                raise Unsendable(f"{name} says {value} but the body has {length} bytes")
            else:
                raise Unsendable(f"{name} cannot be set: the body is sent whole, with its length")
        lines.append(f"{name}: {value}")
    if not has_host:
        lines.insert(1, f"Host: {target.host_header}")
    if target.authorization is not None and not has_authorization:
        lines.append(f"Authorization: {target.authorization}")
    if not has_length and (length or method in _BODY_METHODS):
        lines.append(f"Content-Length: {length}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


class HttpTransport:
    """Sends HTTP callbacks; one instance serves every worker of the process."""

    def __init__(
        self,
        *,
        pool_limit: int = 100,
        body_cap: int = 65536,
        ssl_context: ssl.SSLContext | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        """Configure; nothing is opened until the first send, inside the running loop.

        ``pool_limit`` bounds open connections (keep it at least the number of workers, or
        attempts wait for a connection within their timeout); ``body_cap`` bounds the kept
        answer body in bytes; ``ssl_context`` decides which certificates are trusted for
        https targets (default: the system's); ``resolver`` answers for hosts sent without a
        pinned address (default: getaddrinfo in a thread).
        """
        if pool_limit < 1:
            raise ValueError(f"pool_limit must be at least 1, not {pool_limit}")
        if body_cap < 0:
            raise ValueError(f"body_cap must be 0 or more, not {body_cap}")
        self._body_cap = body_cap
        self._pool = ConnectionPool(
            limit=pool_limit, resolver=resolver or SystemResolver(), ssl_context=ssl_context
        )

    async def send(self, message: OutboundMessage) -> AttemptResult:
        """One attempt; the target's faults come back as outcomes."""
        stopwatch = Stopwatch()
        pinned = message.options.get(CONNECT_IP)
        if pinned is not None:
            pinned = _checked_address(pinned)  # a caller bug, not a target fault: let it raise
        try:
            target = _target(message.target)
            data = _request_head(message, target) + message.body
            answer = await self._pool.exchange(
                (target.tls, target.host, target.port, pinned),
                data,
                self._body_cap,
                timeout=max(message.timeout, _MIN_TIMEOUT),
                head=message.method == "HEAD",
            )
        except TimeoutError:
            return AttemptResult(
                outcome=AttemptOutcome.TIMEOUT,
                duration_ms=stopwatch.elapsed_ms(),
                error=f"no complete answer within {message.timeout:g} s",
            )
        except ExchangeError as exc:
            return AttemptResult(
                outcome=AttemptOutcome.ERROR,
                duration_ms=stopwatch.elapsed_ms(),
                error=describe_error(exc),
            )
        return _judge(answer, stopwatch.elapsed_ms())

    async def close(self) -> None:
        """Close pooled connections; the transport is not used afterwards."""
        await self._pool.close()


def _judge(answer: Answer, duration_ms: float) -> AttemptResult:
    status = answer.status
    headers = answer.headers
    body = answer.body.decode("utf-8", errors="replace")
    if 200 <= status <= 299:
        return AttemptResult(
            outcome=AttemptOutcome.SUCCESS,
            duration_ms=duration_ms,
            status_code=status,
            response_headers=headers,
            response_body=body,
            truncated=answer.truncated,
        )
    retry_after = None
    if status in _RETRY_AFTER_STATUSES and "retry-after" in headers:
        retry_after = parse_retry_after(headers["retry-after"], datetime.now(UTC))
    return AttemptResult(
        outcome=AttemptOutcome.FAILURE,
        duration_ms=duration_ms,
        status_code=status,
        error=_failure_sentence(status, answer.reason, headers),
        response_headers=headers,
        response_body=body,
        truncated=answer.truncated,
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


def describe_error(exc: ExchangeError) -> str:
    """One sentence saying why an attempt could not talk to its target."""
    if isinstance(exc, ResolveError):
        return f"could not resolve {exc.host}: {_os_reason(exc.os_error)}"
    if isinstance(exc, CertificateError):
        return f"the TLS certificate of {exc.host} was not accepted: {exc.reason}"
    if isinstance(exc, HandshakeError):
        return f"the TLS handshake with {exc.host}:{exc.port} failed: {_os_reason(exc.os_error)}"
    if isinstance(exc, ConnectError):
        return f"could not connect to {exc.host}:{exc.port}: {_os_reason(exc.os_error)}"
    if isinstance(exc, Disconnected):
        return "the target closed the connection before answering completely"
    if isinstance(exc, MalformedBody):
        return f"the answer's body was malformed or cut short: {_one_line(exc)}"
    if isinstance(exc, NotHttp):
        return f"the target's answer is not valid HTTP: {_one_line(exc)}"
    if isinstance(exc, BadUrl):
        if exc.http:
            return f"the URL {exc.url} is not a valid http(s) URL"
        return f"the URL {exc.url} is not an http(s) URL"
    return f"the request could not be sent: {_one_line(exc)}"


def _os_reason(error: OSError) -> str:
    # asyncio's connect errors carry "Connect call failed (...)" as text; the errno says more.
    if error.errno is not None and error.errno > 0:
        return os.strerror(error.errno)
    return error.strerror or _one_line(error) or type(error).__name__


def _one_line(value: object) -> str:
    return " ".join(str(value).split())
