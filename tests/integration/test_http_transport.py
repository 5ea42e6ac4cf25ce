"""The HTTP transport against a real receiver: judging answers, errors, headers, pinning, reuse."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme

from mockback.delivery.transports.base import Transport
from mockback.delivery.transports.http import CONNECT_IP, HttpTransport
from mockback.domain.deliveries import AttemptOutcome, AttemptResult, CallbackType, OutboundMessage
from tests.support.receiver import Receiver

SUCCESS = AttemptOutcome.SUCCESS
FAILURE = AttemptOutcome.FAILURE


class NoDns:
    """Fails every lookup, as for a name that does not exist, and counts lookups."""

    def __init__(self) -> None:
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        raise socket.gaierror(-2, "Name or service not known")


class Dns:
    """Answers every lookup with the given addresses, in order."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.addresses


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    t = HttpTransport()
    yield t
    await t.close()


def message(url: str, **fields: Any) -> OutboundMessage:
    return OutboundMessage(delivery_id="dlv_test", type=CallbackType.HTTP, target=url, **fields)


async def test_is_a_transport() -> None:
    """HttpTransport fits the Transport seam."""
    transport: Transport = HttpTransport()
    await transport.close()


@pytest.mark.parametrize(
    "status",
    [
        200,  # plain OK
        201,  # created
        204,  # no content
        299,  # the top of the success range
    ],
)
async def test_2xx_is_success(receiver: Receiver, transport: HttpTransport, status: int) -> None:
    """Any 2xx answer is a success with its status, headers and body."""
    receiver.respond(status, headers={"X-Answer": "yes"}, body=b"" if status == 204 else b"ok")
    result = await transport.send(message(receiver.url("/hook")))
    assert result.outcome is SUCCESS
    assert result.status_code == status
    assert result.error is None
    assert result.response_headers["x-answer"] == "yes"
    assert result.response_body == ("" if status == 204 else "ok")
    assert result.duration_ms > 0


@pytest.mark.parametrize(
    "status",
    [
        301,  # moved permanently
        302,  # found
        303,  # see other (a client would switch to GET)
        307,  # temporary, same method
        308,  # permanent, same method
    ],
)
async def test_redirect_is_failure_and_not_followed(
    receiver: Receiver, transport: HttpTransport, status: int
) -> None:
    """A 3xx is a failure and its Location is never visited."""
    receiver.respond(status, headers={"Location": receiver.url("/elsewhere")}, path="/start")
    result = await transport.send(message(receiver.url("/start")))
    assert result.outcome is FAILURE
    assert result.status_code == status
    assert result.error is not None and "redirects are not followed" in result.error
    assert receiver.url("/elsewhere") in result.error
    await asyncio.sleep(0.1)
    assert receiver.calls_to("/elsewhere") == []


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (400, "Bad Request"),  # client error
        (404, "Not Found"),  # missing endpoint, still retried
        (500, "Internal Server Error"),  # server error
        (503, "Service Unavailable"),  # unavailable, no Retry-After
    ],
)
async def test_4xx_5xx_are_failures(
    receiver: Receiver, transport: HttpTransport, status: int, phrase: str
) -> None:
    """A 4xx or 5xx is a failure with the status, the body and a sentence; retries go on."""
    receiver.respond(status, body="nope")
    result = await transport.send(message(receiver.url("/")))
    assert result.outcome is FAILURE
    assert result.status_code == status
    assert result.error == f"the target answered {status} {phrase}"
    assert result.response_body == "nope"
    assert result.stop_retrying is False
    assert result.retry_after is None


async def test_410_stops_retrying(receiver: Receiver, transport: HttpTransport) -> None:
    """A 410 is a failure that says: no more attempts."""
    receiver.respond(410)
    result = await transport.send(message(receiver.url("/")))
    assert result.outcome is FAILURE
    assert result.status_code == 410
    assert result.stop_retrying is True
    assert result.error is not None and "gone" in result.error


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (429, "7", 7.0),  # too many requests, delta-seconds
        (503, "0", 0.0),  # unavailable, retry now
        (503, "-3", 0.0),  # a negative delta is clamped
        (429, "whenever", None),  # garbage is ignored
        (500, "7", None),  # Retry-After only counts on 429 and 503
        (410, "7", None),  # and never on a gone endpoint
    ],
)
async def test_retry_after_seconds(
    receiver: Receiver,
    transport: HttpTransport,
    status: int,
    retry_after: str,
    expected: float | None,
) -> None:
    """Retry-After in seconds is reported on 429/503 only."""
    receiver.respond(status, headers={"Retry-After": retry_after})
    result = await transport.send(message(receiver.url("/")))
    assert result.outcome is FAILURE
    assert result.retry_after == expected
    assert result.response_headers["retry-after"] == retry_after


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_http_date(
    receiver: Receiver, transport: HttpTransport, status: int
) -> None:
    """Retry-After as an HTTP-date becomes the seconds until that date."""
    when = datetime.now(UTC) + timedelta(seconds=120)
    receiver.respond(status, headers={"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    result = await transport.send(message(receiver.url("/")))
    assert result.retry_after is not None
    assert 117.0 <= result.retry_after <= 120.0


async def test_hanging_target_times_out(receiver: Receiver, transport: HttpTransport) -> None:
    """A target that never answers ends the attempt as a timeout after the message's timeout."""
    receiver.hang()
    result = await transport.send(message(receiver.url("/"), timeout=0.3))
    assert result.outcome is AttemptOutcome.TIMEOUT
    assert result.status_code is None
    assert result.error == "no complete answer within 0.3 s"
    assert 250 <= result.duration_ms < 2000


async def test_zero_timeout_is_not_unlimited(receiver: Receiver, transport: HttpTransport) -> None:
    """A zero timeout ends the attempt at once instead of waiting forever."""
    receiver.hang()
    result = await asyncio.wait_for(transport.send(message(receiver.url("/"), timeout=0)), 5)
    assert result.outcome is AttemptOutcome.TIMEOUT


async def test_slow_target_times_out(receiver: Receiver, transport: HttpTransport) -> None:
    """A target slower than the timeout is a timeout, even though it would answer."""
    receiver.respond(200, delay=2.0)
    result = await transport.send(message(receiver.url("/"), timeout=0.3))
    assert result.outcome is AttemptOutcome.TIMEOUT


@pytest.fixture
def closed_port() -> Iterator[int]:
    # A bound socket that does not listen makes the kernel refuse connections to its port,
    # and holding it keeps anything else from taking the port during the test.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


async def test_connection_refused_is_error(transport: HttpTransport, closed_port: int) -> None:
    """A refused connection is an error naming the address."""
    result = await transport.send(message(f"http://127.0.0.1:{closed_port}/"))
    assert result.outcome is AttemptOutcome.ERROR
    assert result.status_code is None
    assert result.error == f"could not connect to 127.0.0.1:{closed_port}: Connection refused"


async def test_unknown_host_is_error() -> None:
    """A name that does not resolve is an error naming the host."""
    transport = HttpTransport(resolver=NoDns())
    try:
        result = await transport.send(message("http://nowhere.test/"))
    finally:
        await transport.close()
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error is not None and result.error.startswith("could not resolve nowhere.test")


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        # the connection is closed without an answer
        ({"drop": True}, "the target closed the connection before answering completely"),
        # something that is not HTTP
        ({"raw": b"NONSENSE\r\n\r\n"}, "the target's answer is not valid HTTP"),
        # a body shorter than its Content-Length
        (
            {"raw": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
            "the answer's body was malformed or cut short",
        ),
    ],
)
async def test_protocol_failures_are_errors(
    receiver: Receiver, transport: HttpTransport, program: dict[str, Any], expected: str
) -> None:
    """Broken answers are errors with a sentence, not exceptions."""
    if "drop" in program:
        receiver.drop()
    else:
        receiver.raw(program["raw"])
    result = await transport.send(message(receiver.url("/")))
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error is not None and result.error.startswith(expected)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # not an http(s) URL
        ({"target": "ftp://example.test/file"}, "is not an http(s) URL"),
        # no host at all
        ({"target": "http:///path"}, "is not a valid http(s) URL"),
        # a header value carrying a line break (header injection from templated data)
        ({"headers": (("X-A", "1\r\nX-B: 2"),)}, "the request could not be sent"),
        # a method that is not an HTTP token
        ({"method": "GE T"}, "the request could not be sent"),
    ],
)
async def test_unsendable_requests_are_errors(
    receiver: Receiver, transport: HttpTransport, fields: dict[str, Any], expected: str
) -> None:
    """A request that cannot be built is an error outcome, and nothing reaches the target."""
    fields.setdefault("target", receiver.url("/"))
    result = await transport.send(
        OutboundMessage(delivery_id="dlv_x", type=CallbackType.HTTP, **fields)
    )
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error is not None and expected in result.error
    assert receiver.calls == []


@pytest.mark.parametrize(
    ("size", "cap", "truncated"),
    [
        (100, 10, True),  # longer than the cap: cut
        (10, 10, False),  # exactly the cap: whole
        (9, 10, False),  # shorter: whole
        (200_000, 65536, True),  # several network reads past the default cap
        (5, 0, True),  # a zero cap keeps nothing
    ],
)
async def test_body_cap(receiver: Receiver, size: int, cap: int, truncated: bool) -> None:
    """The answer body is kept up to the cap, with a flag when it was longer."""
    body = bytes(ord("a") + i % 26 for i in range(size))
    receiver.respond(200, body=body)
    transport = HttpTransport(body_cap=cap)
    try:
        result = await transport.send(message(receiver.url("/")))
        after = await transport.send(message(receiver.url("/")))
    finally:
        await transport.close()
    assert result.response_body == body[:cap].decode()
    assert result.truncated is truncated
    assert after.outcome is SUCCESS  # a cut body does not spoil the next attempt


async def test_body_cut_inside_a_character_is_replaced(receiver: Receiver) -> None:
    """A cap that splits a UTF-8 character leaves a replacement character, not an error."""
    receiver.respond(200, body="éé".encode())
    transport = HttpTransport(body_cap=3)
    try:
        result = await transport.send(message(receiver.url("/")))
    finally:
        await transport.close()
    assert result.response_body == "é\ufffd"
    assert result.truncated is True


async def test_response_headers_lower_cased_and_joined(
    receiver: Receiver, transport: HttpTransport
) -> None:
    """Response header names are lower-cased and repeated ones joined with a comma."""
    receiver.respond(200, headers=[("X-Dup", "a"), ("x-dup", "b"), ("X-Single", "S")])
    result = await transport.send(message(receiver.url("/")))
    assert result.response_headers["x-dup"] == "a, b"
    assert result.response_headers["x-single"] == "S"
    assert all(name == name.lower() for name in result.response_headers)


async def test_headers_sent_exactly_as_given(receiver: Receiver, transport: HttpTransport) -> None:
    """Only the caller's headers go out, plus Host and Content-Length; no default Content-Type."""
    given = (("X-Mockback-Delivery-Id", "dlv_1"), ("x-dup", "1"), ("x-dup", "2"))
    await transport.send(message(receiver.url("/"), headers=given, body=b"\x00\x01binary"))
    (call,) = await receiver.wait_for(1)
    framing = [(k, v) for k, v in call.raw_headers if k.lower() in ("host", "content-length")]
    others = [(k, v) for k, v in call.raw_headers if k.lower() not in ("host", "content-length")]
    assert others == list(given)
    assert dict(framing) == {"Host": f"127.0.0.1:{receiver.port}", "Content-Length": "8"}
    assert call.body == b"\x00\x01binary"


async def test_callers_content_type_is_the_only_one(
    receiver: Receiver, transport: HttpTransport
) -> None:
    """A Content-Type set by the caller is sent once, unchanged."""
    headers = (("Content-Type", "application/json"),)
    await transport.send(message(receiver.url("/"), headers=headers, body=b'{"a":1}'))
    (call,) = await receiver.wait_for(1)
    assert call.headers.getall("Content-Type") == ["application/json"]
    assert call.json() == {"a": 1}


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("POST", b"p"),  # the default
        ("PUT", b"u"),  # replaces
        ("PATCH", b"a"),  # amends
        ("DELETE", b""),  # no body
        ("GET", b""),  # no body
    ],
)
async def test_methods(
    receiver: Receiver, transport: HttpTransport, method: str, body: bytes
) -> None:
    """Each supported method is sent as given, with its body and no Content-Type of aiohttp's."""
    result = await transport.send(message(receiver.url("/m"), method=method, body=body))
    assert result.outcome is SUCCESS
    (call,) = await receiver.wait_for(1)
    assert call.method == method
    assert call.body == body
    assert "Content-Type" not in call.headers


async def test_cookies_are_not_carried_between_deliveries(receiver: Receiver) -> None:
    """A cookie set by one target's answer is not sent with the next delivery."""
    # aiohttp's default jar ignores cookies from bare IP addresses, so use a host name.
    transport = HttpTransport(resolver=NoDns())
    url = receiver.url("/", host="hooks.example.test")
    pinned = {CONNECT_IP: "127.0.0.1"}
    receiver.respond(200, headers={"Set-Cookie": "session=abc; Path=/"})
    try:
        await transport.send(message(url, options=pinned))
        await transport.send(message(url, options=pinned))
    finally:
        await transport.close()
    calls = await receiver.wait_for(2)
    assert "Cookie" not in calls[1].headers


async def test_connection_reused_across_sequential_sends(
    receiver: Receiver, transport: HttpTransport
) -> None:
    """Sequential sends to one target share one kept-alive TCP connection."""
    receiver.fail_first(2, 500)
    for _ in range(5):
        await transport.send(message(receiver.url("/"), body=b"x"))
    calls = await receiver.wait_for(5)
    assert len({c.peer for c in calls}) == 1


async def test_pool_limit_bounds_connections(receiver: Receiver) -> None:
    """Concurrent sends never open more connections than the pool limit."""
    receiver.respond(200, delay=0.1)
    transport = HttpTransport(pool_limit=2)
    try:
        results = await asyncio.gather(
            *(transport.send(message(receiver.url("/"))) for _ in range(6))
        )
    finally:
        await transport.close()
    assert all(r.outcome is SUCCESS for r in results)
    assert len({c.peer for c in receiver.calls}) == 2


async def test_send_after_close_is_a_bug(receiver: Receiver) -> None:
    """A closed transport refuses to send (a caller bug, not a target fault)."""
    transport = HttpTransport()
    await transport.send(message(receiver.url("/")))
    await transport.close()
    with pytest.raises(RuntimeError, match="closed"):
        await transport.send(message(receiver.url("/")))


async def test_connect_ip_pins_the_address_and_keeps_the_host(receiver: Receiver) -> None:
    """With connect_ip the connection goes to that address; Host still names the URL's host."""
    dns = NoDns()
    transport = HttpTransport(resolver=dns)
    url = receiver.url("/pinned", host="hooks.example.test")
    try:
        pinned = await transport.send(message(url, options={CONNECT_IP: "127.0.0.1"}))
    finally:
        await transport.close()
    assert pinned.outcome is SUCCESS
    (call,) = await receiver.wait_for(1)
    assert call.headers["Host"] == f"hooks.example.test:{receiver.port}"
    assert dns.lookups == []


async def test_without_connect_ip_the_fallback_resolver_answers(receiver: Receiver) -> None:
    """Without a pin the host is resolved normally (here: it does not exist)."""
    dns = NoDns()
    transport = HttpTransport(resolver=dns)
    try:
        result = await transport.send(message(receiver.url("/", host="hooks.example.test")))
    finally:
        await transport.close()
    assert result.outcome is AttemptOutcome.ERROR
    assert dns.lookups == ["hooks.example.test"]
    assert receiver.calls == []


async def test_connect_ip_must_be_an_address(transport: HttpTransport) -> None:
    """A connect_ip that is not an IP address is a caller bug and raises."""
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        await transport.send(message("http://a.test/", options={CONNECT_IP: "a.test"}))


@pytest.mark.parametrize(
    "pin",
    [
        "::1",  # IPv6
        "0:0:0:0:0:0:0:1",  # a long IPv6 spelling is normalised
    ],
)
async def test_connect_ip_over_ipv6(pin: str) -> None:
    """A pinned IPv6 address is connected to as such, the URL's host kept in Host."""
    async with Receiver(host="::1") as receiver:
        transport = HttpTransport(resolver=NoDns())
        url = receiver.url("/six", host="hooks.example.test")
        try:
            result = await transport.send(message(url, options={CONNECT_IP: pin}))
        finally:
            await transport.close()
        assert result.outcome is SUCCESS, result.error
        (call,) = await receiver.wait_for(1)
    assert call.headers["Host"] == f"hooks.example.test:{receiver.port}"


async def test_resolved_addresses_are_tried_in_order(receiver: Receiver) -> None:
    """Without a pin every resolved address is tried until one answers (127.0.0.2 refuses)."""
    dns = Dns("127.0.0.2", "127.0.0.1")
    transport = HttpTransport(resolver=dns)
    try:
        result = await transport.send(message(receiver.url("/", host="hooks.example.test")))
    finally:
        await transport.close()
    assert result.outcome is SUCCESS, result.error
    assert dns.lookups == ["hooks.example.test"]


async def test_a_kept_alive_connection_serves_only_its_pinned_address(
    receiver: Receiver,
) -> None:
    """A connection kept alive for one pinned address is not reused for another pin."""
    transport = HttpTransport(resolver=NoDns())
    url = receiver.url("/", host="hooks.example.test")
    try:
        first = await transport.send(message(url, options={CONNECT_IP: "127.0.0.1"}))
        # The receiver listens on 127.0.0.1 only: 127.0.0.2 refuses, unless the connection
        # kept alive for 127.0.0.1 were (wrongly) reused.
        other = await transport.send(message(url, options={CONNECT_IP: "127.0.0.2"}))
    finally:
        await transport.close()
    assert first.outcome is SUCCESS, first.error
    assert other.outcome is AttemptOutcome.ERROR
    assert (
        other.error
        == f"could not connect to hooks.example.test:{receiver.port}: Connection refused"
    )


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_context(ca: trustme.CA, names: list[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.example.test").configure_cert(context)

    def remember(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name or "")

    context.sni_callback = remember
    return context


def _trusting(ca: trustme.CA) -> HttpTransport:
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return HttpTransport(resolver=NoDns(), ssl_context=client_context)


async def test_connect_ip_keeps_tls_sni_and_certificate_name(ca: trustme.CA) -> None:
    """Over TLS a pinned address still sends the URL's host as SNI and checks the cert for it."""
    names: list[str] = []
    async with Receiver(ssl_context=_server_context(ca, names)) as receiver:
        transport = _trusting(ca)
        try:
            result = await transport.send(
                message(
                    receiver.url("/tls", host="hooks.example.test"),
                    options={CONNECT_IP: "127.0.0.1"},
                )
            )
        finally:
            await transport.close()
    assert result.outcome is SUCCESS, result.error
    assert names == ["hooks.example.test"]


async def test_certificate_for_another_name_is_refused(ca: trustme.CA) -> None:
    """A certificate that does not name the URL's host is an error, even with a pinned address."""
    async with Receiver(ssl_context=_server_context(ca, [])) as receiver:
        transport = _trusting(ca)
        try:
            result = await transport.send(
                message(
                    receiver.url("/tls", host="other.example.test"),
                    options={CONNECT_IP: "127.0.0.1"},
                )
            )
        finally:
            await transport.close()
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error is not None
    assert result.error.startswith("the TLS certificate of other.example.test was not accepted")
    assert receiver.calls == []


async def test_untrusted_certificate_is_error(ca: trustme.CA, transport: HttpTransport) -> None:
    """A certificate from an unknown authority is an error, not an exception."""
    async with Receiver(ssl_context=_server_context(ca, [])) as receiver:
        result: AttemptResult = await transport.send(message(receiver.url("/tls")))
    assert result.outcome is AttemptOutcome.ERROR
    assert result.error is not None and "TLS certificate" in result.error
