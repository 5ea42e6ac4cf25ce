"""The test receiver: what it records and how it answers, over real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from tests.support.receiver import Receiver, Reply, ThreadedReceiver


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _status(client: aiohttp.ClientSession, url: str, **kwargs: object) -> int:
    async with client.post(url, **kwargs) as response:  # type: ignore[arg-type]
        await response.read()
        return response.status


async def test_records_every_detail_of_a_call(
    receiver: Receiver, client: aiohttp.ClientSession
) -> None:
    """A call is recorded with method, path, query, headers, exact body, times and peer."""
    before_wall = datetime.now(UTC)
    before = time.monotonic()
    async with client.put(
        receiver.url("/hooks/a?x=1&x=2&y=z"), data=b"\x00raw", headers={"X-Token": "t"}
    ) as response:
        assert response.status == 200
    (call,) = await receiver.wait_for(1)
    assert call.method == "PUT"
    assert call.path == "/hooks/a"
    assert call.query_string == "x=1&x=2&y=z"
    assert call.query.getall("x") == ["1", "2"]
    assert call.headers["x-token"] == "t"
    assert call.headers["X-TOKEN"] == "t"
    assert ("X-Token", "t") in call.raw_headers
    assert call.body == b"\x00raw"
    assert before <= call.arrived_monotonic <= time.monotonic()
    assert before_wall <= call.arrived_at <= datetime.now(UTC)
    assert call.peer[0] == "127.0.0.1" and call.peer[1] > 0


async def test_json_and_text_helpers(receiver: Receiver, client: aiohttp.ClientSession) -> None:
    """A call's body can be read as text or JSON."""
    await _status(client, receiver.url("/j"), json={"a": [1, "é"]})
    (call,) = await receiver.wait_for(1)
    assert call.json() == {"a": [1, "é"]}
    assert '"a"' in call.text


async def test_respond_with_status_headers_and_body(
    receiver: Receiver, client: aiohttp.ClientSession
) -> None:
    """A programmed answer comes back with its status, headers (duplicates kept) and body."""
    receiver.respond(
        429, headers=[("Retry-After", "7"), ("X-Dup", "a"), ("X-Dup", "b")], body="slow down"
    )
    async with client.post(receiver.url("/")) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "7"
        assert response.headers.getall("X-Dup") == ["a", "b"]
        assert await response.text() == "slow down"


async def test_program_per_path_wins_over_global(
    receiver: Receiver, client: aiohttp.ClientSession
) -> None:
    """A path's program applies to that path; other paths use the global one."""
    receiver.respond(503)
    receiver.respond(201, path="/special")
    assert await _status(client, receiver.url("/special")) == 201
    assert await _status(client, receiver.url("/other")) == 503


async def test_fail_first_then_succeed(receiver: Receiver, client: aiohttp.ClientSession) -> None:
    """The first N calls fail with the given status, later ones succeed."""
    receiver.fail_first(2, 502)
    statuses = [await _status(client, receiver.url("/")) for _ in range(4)]
    assert statuses == [502, 502, 200, 200]


async def test_script_plays_replies_in_order(
    receiver: Receiver, client: aiohttp.ClientSession
) -> None:
    """Scripted replies are used one per call, then the standing reply."""
    receiver.script(Reply(status=500), Reply(status=404), then=Reply(status=204), path="/s")
    statuses = [await _status(client, receiver.url("/s")) for _ in range(4)]
    assert statuses == [500, 404, 204, 204]


async def test_delay_before_answering(receiver: Receiver, client: aiohttp.ClientSession) -> None:
    """A delayed answer arrives no sooner than the delay."""
    receiver.respond(200, delay=0.3)
    started = time.monotonic()
    assert await _status(client, receiver.url("/")) == 200
    assert time.monotonic() - started >= 0.3


async def test_hang_never_answers_until_closed(client: aiohttp.ClientSession) -> None:
    """A hanging receiver never answers; closing it drops the waiting connection."""
    receiver = Receiver()
    await receiver.start()
    receiver.hang()
    request = asyncio.ensure_future(_status(client, receiver.url("/")))
    await receiver.wait_for(1)
    await asyncio.sleep(0.2)
    assert not request.done()
    await receiver.close()
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(request, 5)


async def test_drop_closes_without_answering(
    receiver: Receiver, client: aiohttp.ClientSession
) -> None:
    """A dropped call gets no answer, only a closed connection."""
    receiver.drop(path="/drop")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await _status(client, receiver.url("/drop"))
    assert len(receiver.calls_to("/drop")) == 1


async def test_raw_bytes_instead_of_http(receiver: Receiver, client: aiohttp.ClientSession) -> None:
    """Raw bytes reach the client as they are, so malformed answers can be tested."""
    receiver.raw(b"NONSENSE\r\n\r\n")
    with pytest.raises(aiohttp.ClientResponseError, match="status line"):
        await _status(client, receiver.url("/"))


async def test_wait_for_filters_by_path(receiver: Receiver, client: aiohttp.ClientSession) -> None:
    """Waiting by path counts only that path's calls."""
    for path in ("/a", "/b", "/a"):
        await _status(client, receiver.url(path))
    calls = await receiver.wait_for(2, path="/a")
    assert [c.path for c in calls] == ["/a", "/a"]


async def test_wait_for_timeout_lists_what_arrived(
    receiver: Receiver, client: aiohttp.ClientSession
) -> None:
    """On timeout, wait_for fails with a message listing the calls that did arrive."""
    await _status(client, receiver.url("/came?q=1"), data=b"abc")
    started = time.monotonic()
    with pytest.raises(AssertionError) as caught:
        await receiver.wait_for(2, timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 2
    assert "expected 2 call(s)" in str(caught.value)
    assert "POST /came?q=1 (3 bytes)" in str(caught.value)


async def test_wait_for_wakes_on_arrival(receiver: Receiver, client: aiohttp.ClientSession) -> None:
    """wait_for returns as soon as the awaited call arrives, not at its timeout."""

    async def later() -> None:
        await asyncio.sleep(0.1)
        await _status(client, receiver.url("/late"))

    task = asyncio.ensure_future(later())
    started = time.monotonic()
    await receiver.wait_for(1, timeout=5)
    assert time.monotonic() - started < 2
    await task


async def test_reset_forgets_calls_and_programs(
    receiver: Receiver, client: aiohttp.ClientSession
) -> None:
    """After reset the receiver has no calls and answers 200 again."""
    receiver.respond(500)
    await _status(client, receiver.url("/"))
    receiver.reset()
    assert receiver.calls == []
    assert await _status(client, receiver.url("/")) == 200


def _sync_post(url: str, body: bytes = b"{}") -> int:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def test_threaded_receiver_serves_synchronous_tests() -> None:
    """The threaded receiver records and answers while the test thread blocks."""
    with ThreadedReceiver() as receiver:
        receiver.fail_first(1, 503, path="/hook")
        assert _sync_post(receiver.url("/hook"), b'{"n": 1}') == 503
        assert _sync_post(receiver.url("/hook"), b'{"n": 2}') == 200
        calls = receiver.wait_for(2, timeout=2, path="/hook")
        assert [c.json()["n"] for c in calls] == [1, 2]


def test_threaded_wait_for_timeout_raises_assertion() -> None:
    """The threaded receiver's wait_for fails clearly when too few calls arrive."""
    with ThreadedReceiver() as receiver:
        _sync_post(receiver.url("/x"))
        with pytest.raises(AssertionError, match=r"got 1:\n  POST /x"):
            receiver.wait_for(3, timeout=0.2)


def test_threaded_receiver_closes_with_a_hanging_call() -> None:
    """Closing the threaded receiver ends a hanging call promptly."""
    receiver = ThreadedReceiver()
    receiver.start()
    receiver.hang()
    url = receiver.url("/")
    started = time.monotonic()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            _sync_post(url)
        except OSError as error:
            errors.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    receiver.wait_for(1, timeout=2)
    receiver.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert errors, "the hanging call should end with a connection error"
    assert time.monotonic() - started < 5


def test_port_before_start_is_an_error() -> None:
    """Asking for the URL of a receiver that is not running is a clear error."""
    with pytest.raises(RuntimeError, match="not running"):
        Receiver().url("/")
