"""The sync and asyncio clients over an in-memory transport: headers, bodies, failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

import mockback
from mockback.client import (
    AsyncClient,
    Client,
    InvalidRequest,
    NotFound,
    ServerUnreachable,
)
from mockback.client.calls import WAIT_MARGIN

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Answers every request with a fixed response and keeps the requests."""

    def __init__(self, status: int = 200, body: Any = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.body = {} if body is None else body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, content=orjson.dumps(self.body))


SAVED = {"overwritten": True, "mock": {"id": "m"}, "warnings": []}


def test_sync_client_sends_token_agent_and_json() -> None:
    """Calls carry the bearer token, the user agent and a JSON body with its content type."""
    recorder = Recorder(body=SAVED)
    with Client("http://mb.test:5770/", token="t0k", transport=httpx.MockTransport(recorder)) as c:
        saved = c.mocks.create({"id": "m", "http": {"route": "/a"}})
    (request,) = recorder.requests
    assert str(request.url) == "http://mb.test:5770/api/v1/mocks"
    assert request.headers["authorization"] == "Bearer t0k"
    assert request.headers["user-agent"] == f"mockback-python/{mockback.__version__}"
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == {"id": "m", "http": {"route": "/a"}}
    assert saved.overwritten and saved.id == "m"


def test_no_token_no_authorization_header() -> None:
    """Without a token no Authorization header is sent, and a GET has no body."""
    recorder = Recorder(body={"id": "m"})
    with Client(transport=httpx.MockTransport(recorder)) as c:
        assert c.url == "http://127.0.0.1:5770"
        c.mocks.get("m")
    (request,) = recorder.requests
    assert "authorization" not in request.headers
    assert "content-type" not in request.headers and request.content == b""


def test_wait_allows_a_longer_read_than_the_wait() -> None:
    """The read timeout of a wait exceeds the wait itself, so the server's 408 arrives."""
    recorder = Recorder(body={"items": [], "flushed": 0})
    with Client(timeout=5, transport=httpx.MockTransport(recorder)) as c:
        assert c.deliveries.wait(1, 60) == ()
        c.deliveries.flush()
    wait, flush = recorder.requests
    assert wait.extensions["timeout"]["read"] == 60 + WAIT_MARGIN
    assert flush.extensions["timeout"]["read"] == 5


def test_store_set_merges_positional_and_keyword_values() -> None:
    """store.set takes a mapping, keywords, or both."""
    recorder = Recorder(body={"a": 1, "b": 2})
    with Client(transport=httpx.MockTransport(recorder)) as c:
        assert c.stores.global_("ns").set({"a": 1}, b=2) == {"a": 1, "b": 2}
    (request,) = recorder.requests
    assert request.url.params["namespace"] == "ns"
    assert orjson.loads(request.content) == {"a": 1, "b": 2}


def test_iter_walks_every_page() -> None:
    """mocks.iter asks for pages until it has seen the total."""
    pages = [
        {"items": [{"id": "a"}, {"id": "b"}], "total": 3, "offset": 0, "limit": 1000},
        {"items": [{"id": "c"}], "total": 3, "offset": 2, "limit": 1000},
    ]
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["offset"])
        return httpx.Response(200, content=orjson.dumps(pages[len(seen) - 1]))

    with Client(transport=httpx.MockTransport(handler)) as c:
        assert [m["id"] for m in c.mocks.iter(namespace="ns")] == ["a", "b", "c"]
    assert seen == ["0", "2"]


def test_server_errors_raise_with_details() -> None:
    """A refused call raises the matching ApiError with the server's details."""
    answer = {"error": "Invalid mock.", "details": [{"field": "http", "problem": "is required"}]}
    with (
        Client(transport=httpx.MockTransport(Recorder(400, answer))) as c,
        pytest.raises(InvalidRequest) as caught,
    ):
        c.mocks.create({})
    assert caught.value.details[0].field == "http"


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (httpx.ConnectError("refused"), "cannot reach Mockback at http://127.0.0.1:5770"),  # down
        (httpx.ReadTimeout("slow"), "did not answer GET /health in time"),  # too slow
    ],
)
def test_no_answer_is_server_unreachable(failure: httpx.HTTPError, words: str) -> None:
    """Connection failures and timeouts raise ServerUnreachable, never an httpx error."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    with (
        Client(transport=httpx.MockTransport(handler)) as c,
        pytest.raises(ServerUnreachable) as caught,
    ):
        c.health()
    assert words in str(caught.value)


async def test_async_client_makes_the_same_calls() -> None:
    """AsyncClient sends what Client sends and raises the same errors."""
    recorder = Recorder(body=SAVED)
    async with AsyncClient(
        "http://mb.test", token="t", transport=httpx.MockTransport(recorder)
    ) as c:
        saved = await c.mocks.create({"id": "m"})
        await c.stores.chain("c1").set(k=1)
        assert [m async for m in c.mocks.iter()] == []
    create, store, listing = recorder.requests
    assert saved.id == "m" and create.headers["authorization"] == "Bearer t"
    assert (store.method, store.url.path) == ("POST", "/api/v1/stores/chain/c1")
    assert (listing.url.path, listing.url.params["limit"]) == ("/api/v1/mocks", "1000")
    missing = {"error": "No mock.", "details": []}
    async with AsyncClient(transport=httpx.MockTransport(Recorder(404, missing))) as c:
        with pytest.raises(NotFound, match="No mock"):
            await c.mocks.get("x")
