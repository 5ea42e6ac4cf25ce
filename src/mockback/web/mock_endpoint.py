"""The mock-serving hot path as a raw ASGI callable: no framework between the server and us."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from mockback.domain.requests import RequestSnapshot
from mockback.logs import get_logger
from mockback.serving import MockServer

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BodyTooLarge(Exception):
    """The request body exceeds the limit."""


_NO_BODY = -1  # neither Content-Length nor Transfer-Encoding: HTTP/1.1 says there is no body


def content_length(scope: Scope) -> int | None:
    """The declared body length; ``_NO_BODY`` when the request declares none; None if unknown."""
    declared = _NO_BODY
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = int(value) if value.isdigit() else -2
        elif name == b"transfer-encoding":
            return None
    return None if declared == -2 else declared


async def read_rest(
    receive: Receive, first: MutableMapping[str, Any], limit: int, expected: int | None
) -> bytes:
    """The whole body that starts with the ``first`` message received, at most ``limit`` bytes.

    When the first chunk already holds the declared Content-Length, the body is complete: the
    server's closing empty message is not waited for.
    """
    body = first.get("body", b"")
    if not first.get("more_body", False) or (expected is not None and len(body) == expected):
        if len(body) > limit:
            raise BodyTooLarge
        return bytes(body)
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def snapshot(scope: Scope, body: bytes) -> RequestSnapshot:
    """Convert an ASGI scope into our own request value, once (headers decoded lazily)."""
    qs = scope.get("query_string", b"")
    client = scope.get("client")
    return RequestSnapshot(
        method=scope["method"],
        path=scope["path"],
        query_string=qs.decode("latin-1") if qs else "",
        raw_headers=scope["headers"],
        body=body,
        client=f"{client[0]}:{client[1]}" if client else None,
        received_at=time.time(),
    )


log = get_logger("mockback.serving")

_INTERNAL = orjson.dumps(
    {"error": "Internal error while serving the mock; see the server log.", "details": []}
)
_TOO_LARGE = orjson.dumps(
    {
        "error": "Request body too large.",
        "details": [{"field": "body", "problem": "exceeds the served body limit"}],
    }
)


class MockEndpoint:
    """ASGI app that serves mocks."""

    def __init__(self, server: MockServer, *, max_body: int) -> None:
        self.server = server
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request."""
        try:
            expected = content_length(scope)
            # A request without a body is not waited on: awaiting the server's empty body
            # message costs an event-loop round trip per request.
            if expected == _NO_BODY or expected == 0:
                body = b""
            elif expected is not None and expected > self.max_body:
                raise BodyTooLarge
            else:
                # The first message is awaited here rather than in a helper coroutine: one
                # coroutine less per request on the path of every body-carrying call.
                first = await receive()
                body = first.get("body", b"")
                # The server says more_body even when the first chunk holds the whole declared
                # length; only a body still incomplete (or too large) takes the helper.
                if (len(body) != expected and first.get("more_body", False)) or len(
                    body
                ) > self.max_body:
                    body = await read_rest(receive, first, self.max_body, expected)
        except BodyTooLarge:
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_TOO_LARGE)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _TOO_LARGE})
            return
        try:
            served = await self.server.handle(snapshot(scope, body))
        except Exception as exc:
            log.error(
                "Unexpected error while serving a mock",
                method=scope["method"],
                path=scope["path"],
                error=repr(exc),
                traceback=traceback.format_exc(),
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_INTERNAL)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _INTERNAL})
            return
        if served.delay > 0:
            await asyncio.sleep(served.delay)
        await send(
            {"type": "http.response.start", "status": served.status, "headers": served.headers}
        )
        await send(
            {
                "type": "http.response.body",
                "body": b"" if scope["method"] == "HEAD" else served.body,
            }
        )
