"""The ASGI entry: lifespan, and the dispatch between admin routes and served mocks.

Admin routes win only for their exact paths (``/api/v1/mocks/{id}`` is admin,
``/api/v1/payments`` is a mock path); everything else is served by the mock endpoint without
passing through a framework.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from mockback.web.mock_endpoint import MockEndpoint, Receive, Scope, Send

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Dispatcher:
    """Routes each request to the admin app or the mock endpoint."""

    def __init__(
        self,
        *,
        admin: ASGIApp,
        admin_paths: list[re.Pattern[str]],
        mocks: MockEndpoint,
        on_startup: Callable[[], Awaitable[None]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.admin = admin
        self.mocks = mocks
        self._patterns = admin_paths
        prefixes = set()
        for p in admin_paths:
            literal = re.match(r"\^?(/[A-Za-z0-9_.\-]*)", p.pattern)
            prefixes.add(literal.group(1) if literal else "/")
        self._prefixes = tuple(sorted(prefixes))
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown

    def is_admin(self, path: str) -> bool:
        """Whether the path is one of the admin API's exact routes."""
        if not path.startswith(self._prefixes):
            return False
        return any(p.match(path) for p in self._patterns)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI."""
        kind = scope["type"]
        if kind == "http":
            if self.is_admin(scope["path"]):
                await self.admin(scope, receive, send)
            else:
                await self.mocks(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: Any = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._on_startup is not None:
                        await self._on_startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._on_shutdown is not None:
                    await self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
