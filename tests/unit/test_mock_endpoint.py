"""The raw ASGI mock endpoint: body reading, limits, and failures turned into a JSON 500."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson
import pytest

from mockback.serving import ServedResponse
from mockback.web.mock_endpoint import MockEndpoint


def receiver(*chunks: tuple[bytes, bool]) -> Any:
    messages = [{"type": "http.request", "body": b, "more_body": more} for b, more in chunks]
    calls = {"n": 0}

    async def receive() -> MutableMapping[str, Any]:
        calls["n"] += 1
        return messages.pop(0)

    receive.calls = calls  # type: ignore[attr-defined]
    return receive


class Echo:
    """A stand-in for MockServer that answers with the body it was given."""

    async def handle(self, request: Any) -> ServedResponse:
        return ServedResponse(200, [], request.body)


async def serve(
    receive: Any, *, limit: int = 100, declared: int | None = None
) -> list[MutableMapping[str, Any]]:
    """What the endpoint sends for a POST whose body ``receive`` hands out."""
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    if declared is None:
        headers.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/x",
        "query_string": b"",
        "headers": headers,
    }
    await MockEndpoint(Echo(), max_body=limit)(scope, receive, send)  # type: ignore[arg-type]
    return sent


async def test_complete_first_chunk_is_not_waited_on() -> None:
    """A first chunk holding the whole declared length ends the read at once."""
    receive = receiver((b"abc", True), (b"", False))
    sent = await serve(receive, declared=3)
    assert sent[1]["body"] == b"abc"
    assert receive.calls["n"] == 1


async def test_chunks_are_joined_until_the_last() -> None:
    """A body in several chunks is read to its last message."""
    sent = await serve(receiver((b"ab", True), (b"c", True), (b"", False)))
    assert sent[1]["body"] == b"abc"


@pytest.mark.parametrize(
    ("chunks", "declared"),
    [
        ([(b"x" * 11, False)], None),  # one chunk over the limit
        ([(b"x" * 11, False)], 11),  # one declared chunk over the limit
        ([(b"x" * 6, True), (b"x" * 6, False)], None),  # chunks adding up over the limit
        ([(b"", False)], 11),  # declared length over the limit: nothing is read
    ],
)
async def test_limit(chunks: list[tuple[bytes, bool]], declared: int | None) -> None:
    """Bodies over the limit are answered 413 with a JSON error, whether declared or streamed."""
    receive = receiver(*chunks)
    sent = await serve(receive, limit=10, declared=declared)
    assert sent[0]["status"] == 413
    assert orjson.loads(sent[1]["body"])["details"][0]["field"] == "body"
    if declared is not None and declared > 10:
        assert receive.calls["n"] == 0


class Exploding:
    async def handle(self, request: Any) -> Any:
        raise RuntimeError("boom")


async def test_unexpected_error_answers_json_500() -> None:
    """An unexpected error while serving answers a JSON 500 instead of dropping the request."""
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    endpoint = MockEndpoint(Exploding(), max_body=100)  # type: ignore[arg-type]
    scope = {"type": "http", "method": "GET", "path": "/x", "query_string": b"", "headers": []}
    await endpoint(scope, receiver((b"", False)), send)
    assert sent[0]["status"] == 500
    assert "error" in orjson.loads(sent[1]["body"])
