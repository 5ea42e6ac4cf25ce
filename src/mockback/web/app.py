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


_LITERAL = re.compile(r"^\^((?:[A-Za-z0-9_/\-]|\\[.\-/])*)")


def _literal_prefix(pattern: str) -> tuple[str, bool]:
    """The literal start of a route regex, and whether the whole pattern is literal."""
    m = _LITERAL.match(pattern)
    literal = m.group(1) if m else ""
    rest = pattern[m.end() if m else 0 :]
    return literal.replace("\\", ""), rest == "$"


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
        exact: set[str] = set()
        patterned: list[tuple[str, re.Pattern[str]]] = []
        for p in admin_paths:
            literal, whole = _literal_prefix(p.pattern)
            if whole:
                exact.add(literal)
            else:
                patterned.append((literal, p))
        # Admin paths are matched exactly: a set for literal routes, then the few patterned
        # routes whose literal start fits. Mock paths usually fail the first startswith.
        self._exact = frozenset(exact)
        self._patterned = tuple(patterned)
        self._starts = tuple(sorted({lit for lit, _ in patterned}))
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown

    def is_admin(self, path: str) -> bool:
        """Whether the path is one of the admin API's exact routes."""
        if path in self._exact:
            return True
        if not path.startswith(self._starts):
            return False
        return any(path.startswith(lit) and p.match(path) for lit, p in self._patterned)

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
