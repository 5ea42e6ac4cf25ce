"""The raw ASGI mock endpoint: body reading, limits, and failures turned into a JSON 500."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson
import pytest

from mockback.web.mock_endpoint import BodyTooLarge, MockEndpoint, read_body


def receiver(*chunks: tuple[bytes, bool]) -> Any:
    messages = [{"type": "http.request", "body": b, "more_body": more} for b, more in chunks]
    calls = {"n": 0}

    async def receive() -> MutableMapping[str, Any]:
        calls["n"] += 1
        return messages.pop(0)

    receive.calls = calls  # type: ignore[attr-defined]
    return receive


async def test_complete_first_chunk_is_not_waited_on() -> None:
    """A first chunk holding the whole declared length ends the read at once."""
    receive = receiver((b"abc", True), (b"", False))
    assert await read_body(receive, 100, expected=3) == b"abc"
    assert receive.calls["n"] == 1


async def test_chunks_are_joined_until_the_last() -> None:
    """A body in several chunks is read to its last message."""
    receive = receiver((b"ab", True), (b"c", True), (b"", False))
    assert await read_body(receive, 100) == b"abc"


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([(b"x" * 11, False)], None),  # one chunk over the limit
        ([(b"x" * 6, True), (b"x" * 6, False)], None),  # chunks adding up over the limit
        ([(b"", False)], 11),  # declared length over the limit: nothing is read
    ],
)
async def test_limit(chunks: list[tuple[bytes, bool]], expected: int | None) -> None:
    """Bodies over the limit are refused, whether declared or streamed."""
    with pytest.raises(BodyTooLarge):
        await read_body(receiver(*chunks), 10, expected)


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
