"""The asyncio client: ``AsyncClient(url, token=...)``, the calls of ``Client``, awaited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from mockback.client import calls
from mockback.client.calls import Call
from mockback.client.models import Delivery, LoggedRequest, Mock, Page, SavedMock
from mockback.client.sync import DEFAULT_URL, PAGE_SIZE, base_headers, unreachable

T = TypeVar("T")


class AsyncClient:
    """A client of one Mockback server's admin API, for asyncio code.

    ``async with AsyncClient(url, token=None) as client:``; the resources and their methods are
    those of ``Client``, as coroutines.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")  # the server's base URL
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=base_headers(token),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )
        self._timeout = timeout
        self.mocks = AsyncMocks(self)  # create, read, change, delete and restore mocks
        self.deliveries = AsyncDeliveries(self)  # callbacks fired
        self.stores = AsyncStores(self)  # global and chain stores
        self.requests = AsyncRequests(self)  # the served and unmatched request logs
        self.namespaces = AsyncNamespaces(self)  # list, create, change and delete namespaces
        self.webhooks = AsyncWebhooks(self)  # change webhooks of a namespace, and admin webhooks

    async def send(self, call: Call[T]) -> T:
        """Make one admin API call and return its result."""
        timeout = self._timeout if call.timeout is None else max(call.timeout, self._timeout)
        headers = {"Content-Type": "application/json"} if call.body is not None else None
        try:
            response = await self._http.request(
                call.method,
                call.path,
                params=call.params,
                content=call.body,
                headers=headers,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise unreachable(self.url, call, exc) from exc
        return call.result(response.status_code, response.content)

    async def health(self) -> dict[str, Any]:
        """``{"status", "version", "mocks"}``."""
        return await self.send(calls.health())

    async def aclose(self) -> None:
        """Release the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r})"


class AsyncMocks:
    """``client.mocks``: see ``Mocks``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, mock: Mapping[str, Any], *, strict: bool | None = None) -> SavedMock:
        """Create a mock, or overwrite the one with the same id."""
        return await self._client.send(calls.create_mock(mock, strict=strict))

    async def get(self, mock_id: str) -> Mock:
        """One mock, deleted or not."""
        return await self._client.send(calls.get_mock(mock_id))

    async def list(
        self,
        *,
        namespace: str | None = None,
        tags: Iterable[str] | None = None,
        search: str | None = None,
        include_deleted: bool = False,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[Mock]:
        """A page of mocks in creation order."""
        return await self._client.send(
            calls.list_mocks(
                namespace=namespace,
                tags=tags,
                search=search,
                include_deleted=include_deleted,
                offset=offset,
                limit=limit,
            )
        )

    async def iter(
        self,
        *,
        namespace: str | None = None,
        tags: Iterable[str] | None = None,
        search: str | None = None,
        include_deleted: bool = False,
    ) -> AsyncIterator[Mock]:
        """Every matching mock, page after page."""
        tag_list = None if tags is None else tuple(tags)
        offset = 0
        while True:
            page = await self.list(
                namespace=namespace,
                tags=tag_list,
                search=search,
                include_deleted=include_deleted,
                offset=offset,
                limit=PAGE_SIZE,
            )
            for mock in page.items:
                yield mock
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    async def update(
        self, mock_id: str, mock: Mapping[str, Any], *, strict: bool | None = None
    ) -> SavedMock:
        """Replace an existing mock as a whole."""
        return await self._client.send(calls.update_mock(mock_id, mock, strict=strict))

    async def patch(
        self, mock_id: str, changes: Mapping[str, Any], *, strict: bool | None = None
    ) -> SavedMock:
        """Change some fields (JSON merge patch)."""
        return await self._client.send(calls.patch_mock(mock_id, changes, strict=strict))

    async def delete(self, mock_id: str) -> Mock:
        """Soft-delete."""
        return await self._client.send(calls.delete_mock(mock_id))

    async def restore(self, mock_id: str) -> Mock:
        """Bring a deleted mock back."""
        return await self._client.send(calls.restore_mock(mock_id))


class AsyncDeliveries:
    """``client.deliveries``: see ``Deliveries``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(
        self,
        *,
        mock_id: str | None = None,
        namespace: str | None = None,
        status: str | Iterable[str] | None = None,
        request_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[Delivery]:
        """A page of deliveries, newest first."""
        return await self._client.send(
            calls.list_deliveries(
                mock_id=mock_id,
                namespace=namespace,
                status=status,
                request_id=request_id,
                offset=offset,
                limit=limit,
            )
        )

    async def get(self, delivery_id: str) -> Delivery:
        """One delivery with its attempts."""
        return await self._client.send(calls.get_delivery(delivery_id))

    async def wait(
        self,
        count: int = 1,
        timeout: float = 10.0,
        *,
        mock_id: str | None = None,
        namespace: str | None = None,
        status: str | Iterable[str] | None = None,
    ) -> tuple[Delivery, ...]:
        """The first ``count`` matching deliveries once ended; ``WaitTimedOut`` otherwise."""
        return await self._client.send(
            calls.wait_deliveries(
                count, timeout, mock_id=mock_id, namespace=namespace, status=status
            )
        )

    async def redeliver(self, delivery_id: str) -> Delivery:
        """Send a delivery again now."""
        return await self._client.send(calls.redeliver(delivery_id))

    async def flush(self) -> int:
        """End every delay and retry wait now."""
        return await self._client.send(calls.flush_deliveries())


class AsyncStore:
    """One store: see ``Store``."""

    def __init__(self, client: AsyncClient, scope: str, owner: str) -> None:
        self._client = client
        self.scope = scope  # "global" or "chain"
        self.owner = owner  # the namespace, or the chain id

    async def get(self) -> dict[str, Any]:
        """All values of the store."""
        return await self._client.send(calls.get_store(self.scope, self.owner))

    async def set(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> dict[str, Any]:
        """Set keys (others are kept); answers the whole store."""
        return await self._client.send(
            calls.set_store(self.scope, self.owner, {**(values or {}), **more})
        )

    async def delete(self, key: str) -> None:
        """Remove one key."""
        await self._client.send(calls.delete_store_key(self.scope, self.owner, key))


class AsyncStores:
    """``client.stores``: see ``Stores``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def global_(self, namespace: str = "sandbox") -> AsyncStore:
        """The global store of a namespace."""
        return AsyncStore(self._client, "global", namespace)

    def chain(self, chain_id: str) -> AsyncStore:
        """The store shared by the mocks of one chain."""
        return AsyncStore(self._client, "chain", chain_id)


class AsyncRequests:
    """``client.requests``: see ``Requests``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(
        self,
        *,
        mock_id: str | None = None,
        namespace: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[LoggedRequest]:
        """Requests a mock answered."""
        return await self._client.send(
            calls.list_requests(mock_id=mock_id, namespace=namespace, offset=offset, limit=limit)
        )

    async def unmatched(
        self, *, namespace: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[LoggedRequest]:
        """Requests no mock matched."""
        return await self._client.send(
            calls.list_unmatched(namespace=namespace, offset=offset, limit=limit)
        )

    async def clear(self) -> None:
        """Forget both request logs."""
        await self._client.send(calls.clear_requests())


class AsyncNamespaces:
    """``client.namespaces``: ``{"name", "description", "createdAt"}`` documents."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self) -> list[dict[str, Any]]:
        """The caller's namespaces (admins: all), by name."""
        return await self._client.send(calls.list_namespaces())

    async def get(self, name: str) -> dict[str, Any]:
        """One namespace."""
        return await self._client.send(calls.get_namespace(name))

    async def create(self, name: str, *, description: str | None = None) -> dict[str, Any]:
        """Create a namespace (admins; Conflict when it exists)."""
        return await self._client.send(calls.create_namespace(name, description=description))

    async def update(self, name: str, *, description: str) -> dict[str, Any]:
        """Change a namespace's description (owners and admins)."""
        return await self._client.send(calls.update_namespace(name, description=description))

    async def delete(self, name: str) -> dict[str, Any]:
        """Delete a namespace: members and webhooks go, its mocks are soft-deleted (admins)."""
        return await self._client.send(calls.delete_namespace(name))


class AsyncWebhookSet:
    """The change webhooks of one namespace, or the admin webhooks."""

    def __init__(self, client: AsyncClient, namespace: str | None) -> None:
        self._client = client
        self.namespace = namespace  # the namespace, or None for the admin webhooks

    async def list(self) -> list[dict[str, Any]]:
        """Every webhook, oldest first; signing secrets masked."""
        return await self._client.send(calls.list_webhooks(self.namespace))

    async def save(self, webhook: Mapping[str, Any]) -> dict[str, Any]:
        """Create a webhook, or replace the one with the same id (a masked secret is kept)."""
        return await self._client.send(calls.save_webhook(self.namespace, webhook))

    async def delete(self, webhook_id: str) -> None:
        """Remove one (NotFound when absent)."""
        await self._client.send(calls.delete_webhook(self.namespace, webhook_id))

    def __repr__(self) -> str:
        return f"AsyncWebhookSet({self.namespace!r})"


class AsyncWebhooks:
    """``client.webhooks``: ``namespace(ns)`` and ``admin()`` change webhooks."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def namespace(self, namespace: str) -> AsyncWebhookSet:
        """The change webhooks of one namespace."""
        return AsyncWebhookSet(self._client, namespace)

    def admin(self) -> AsyncWebhookSet:
        """The admin (server-wide) change webhooks."""
        return AsyncWebhookSet(self._client, None)
