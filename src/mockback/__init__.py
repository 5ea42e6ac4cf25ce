"""Mockback: a mock API server whose mocks call back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mockback.client import AsyncClient, Client

__all__ = ["AsyncClient", "Client", "__version__"]


def __getattr__(name: str) -> Any:
    # The client (and httpx) load on first use, so `mockback serve` does not pay for them.
    if name in ("Client", "AsyncClient"):
        from mockback import client

        return getattr(client, name)
    raise AttributeError(f"module 'mockback' has no attribute {name!r}")
