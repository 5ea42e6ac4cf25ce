"""The Python client of a running Mockback server.

```python
from mockback.client import Client

with Client("http://127.0.0.1:5770") as client:
    client.mocks.create({"id": "hello", "http": {"route": "/hello"}})
    client.deliveries.wait(1, timeout=5, mock_id="hello")
```

``AsyncClient`` offers the same calls to asyncio code. Errors are ``ClientError``s; see
``mockback.client.errors`` for the tree.
"""

from __future__ import annotations

from mockback.client.aio import AsyncClient
from mockback.client.errors import (
    AccessDenied,
    ApiError,
    ClientError,
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Problem,
    ServerError,
    ServerUnreachable,
    UnexpectedAnswer,
    WaitTimedOut,
)
from mockback.client.models import (
    Attempt,
    Delivery,
    LoggedRequest,
    Mock,
    Page,
    SavedMock,
    SentRequest,
)
from mockback.client.sync import DEFAULT_URL, Client

__all__ = [
    "DEFAULT_URL",
    "AccessDenied",
    "ApiError",
    "AsyncClient",
    "Attempt",
    "Client",
    "ClientError",
    "Conflict",
    "Delivery",
    "InvalidRequest",
    "LoggedRequest",
    "Mock",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "Problem",
    "SavedMock",
    "SentRequest",
    "ServerError",
    "ServerUnreachable",
    "UnexpectedAnswer",
    "WaitTimedOut",
]
