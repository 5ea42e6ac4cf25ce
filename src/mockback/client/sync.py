"""The synchronous client: ``Client(url, token=...)`` with mocks, deliveries, stores, requests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

import mockback
from mockback.client import calls
from mockback.client.calls import Call
from mockback.client.errors import ServerUnreachable
from mockback.client.models import Delivery, LoggedRequest, Mock, Page, SavedMock

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:5770"
"""Where ``mockback serve`` listens unless told otherwise."""

PAGE_SIZE = 1000
"""The largest page the server hands out; ``iter`` walks lists in pages this big."""


def base_headers(token: str | None) -> dict[str, str]:
    """Headers on every call: who is calling, and the token when there is one."""
    headers = {"User-Agent": f"mockback-python/{mockback.__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def unreachable(url: str, call: Call[Any], exc: httpx.HTTPError) -> ServerUnreachable:
    """The error for a call that got no answer."""
    if isinstance(exc, httpx.TimeoutException):
        return ServerUnreachable(
            f"Mockback at {url} did not answer {call.method} {call.path} in time"
        )
    return ServerUnreachable(f"cannot reach Mockback at {url}: {exc or type(exc).__name__}")


class Client:
    """A client of one Mockback server's admin API.

    ``Client("http://127.0.0.1:5770", token=None)``; use it as a context manager, or call
    ``close()``, to release its connections. Every failed call raises a ``ClientError``: an
    ``ApiError`` carries the server's message and field problems.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")  # the server's base URL
        self._http = httpx.Client(
            base_url=self.url,
            headers=base_headers(token),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )
        self._timeout = timeout
        self.mocks = Mocks(self)  # create, read, change, delete and restore mocks
        self.deliveries = Deliveries(self)  # callbacks fired: list, show, wait, redeliver, flush
        self.stores = Stores(self)  # global and chain stores
        self.requests = Requests(self)  # the served and unmatched request logs
        self.namespaces = Namespaces(self)  # list, create, change and delete namespaces
        self.webhooks = Webhooks(self)  # change webhooks of a namespace, and admin webhooks

    def send(self, call: Call[T]) -> T:
        """Make one admin API call and return its result (lower level than the resources)."""
        timeout = self._timeout if call.timeout is None else max(call.timeout, self._timeout)
        headers = {"Content-Type": "application/json"} if call.body is not None else None
        try:
            response = self._http.request(
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

    def health(self) -> dict[str, Any]:
        """``{"status", "version", "mocks"}``."""
        return self.send(calls.health())

    def close(self) -> None:
        """Release the connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"


class Mocks:
    """``client.mocks``: mock documents in, mock documents out."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, mock: Mapping[str, Any], *, strict: bool | None = None) -> SavedMock:
        """Create a mock, or overwrite the one with the same id (which also restores it)."""
        return self._client.send(calls.create_mock(mock, strict=strict))

    def get(self, mock_id: str) -> Mock:
        """One mock, deleted or not (``"deleted": true`` says which)."""
        return self._client.send(calls.get_mock(mock_id))

    def list(
        self,
        *,
        namespace: str | None = None,
        tags: Iterable[str] | None = None,
        search: str | None = None,
        include_deleted: bool = False,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[Mock]:
        """A page of mocks in creation order; a mock must carry every tag given."""
        return self._client.send(
            calls.list_mocks(
                namespace=namespace,
                tags=tags,
                search=search,
                include_deleted=include_deleted,
                offset=offset,
                limit=limit,
            )
        )

    def iter(
        self,
        *,
        namespace: str | None = None,
        tags: Iterable[str] | None = None,
        search: str | None = None,
        include_deleted: bool = False,
    ) -> Iterator[Mock]:
        """Every matching mock, page after page."""
        tag_list = None if tags is None else tuple(tags)
        offset = 0
        while True:
            page = self.list(
                namespace=namespace,
                tags=tag_list,
                search=search,
                include_deleted=include_deleted,
                offset=offset,
                limit=PAGE_SIZE,
            )
            yield from page.items
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    def update(
        self, mock_id: str, mock: Mapping[str, Any], *, strict: bool | None = None
    ) -> SavedMock:
        """Replace an existing mock as a whole (NotFound when there is none)."""
        return self._client.send(calls.update_mock(mock_id, mock, strict=strict))

    def patch(
        self, mock_id: str, changes: Mapping[str, Any], *, strict: bool | None = None
    ) -> SavedMock:
        """Change some fields (JSON merge patch: ``None`` removes a field)."""
        return self._client.send(calls.patch_mock(mock_id, changes, strict=strict))

    def delete(self, mock_id: str) -> Mock:
        """Soft-delete: the mock stops matching until restored."""
        return self._client.send(calls.delete_mock(mock_id))

    def restore(self, mock_id: str) -> Mock:
        """Bring a deleted mock back."""
        return self._client.send(calls.restore_mock(mock_id))


class Deliveries:
    """``client.deliveries``: every firing of a callback, and its attempts."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(
        self,
        *,
        mock_id: str | None = None,
        namespace: str | None = None,
        status: str | Iterable[str] | None = None,
        request_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[Delivery]:
        """A page of deliveries, newest first (attempts left out: ``get`` one to see them)."""
        return self._client.send(
            calls.list_deliveries(
                mock_id=mock_id,
                namespace=namespace,
                status=status,
                request_id=request_id,
                offset=offset,
                limit=limit,
            )
        )

    def get(self, delivery_id: str) -> Delivery:
        """One delivery with its attempts."""
        return self._client.send(calls.get_delivery(delivery_id))

    def wait(
        self,
        count: int = 1,
        timeout: float = 10.0,
        *,
        mock_id: str | None = None,
        namespace: str | None = None,
        status: str | Iterable[str] | None = None,
    ) -> tuple[Delivery, ...]:
        """The first ``count`` matching deliveries once they have ended (with attempts).

        Any final status counts unless ``status`` is given. Raises ``WaitTimedOut`` (holding
        the deliveries that did end) when fewer ended within ``timeout`` seconds.
        """
        return self._client.send(
            calls.wait_deliveries(
                count, timeout, mock_id=mock_id, namespace=namespace, status=status
            )
        )

    def redeliver(self, delivery_id: str) -> Delivery:
        """Send a delivery again now (same id, retry policy counted afresh)."""
        return self._client.send(calls.redeliver(delivery_id))

    def flush(self) -> int:
        """End every delay and retry wait now; answers how many deliveries became due."""
        return self._client.send(calls.flush_deliveries())


class Store:
    """One store: the global store of a namespace, or a chain store."""

    def __init__(self, client: Client, scope: str, owner: str) -> None:
        self._client = client
        self.scope = scope  # "global" or "chain"
        self.owner = owner  # the namespace, or the chain id

    def get(self) -> dict[str, Any]:
        """All values of the store."""
        return self._client.send(calls.get_store(self.scope, self.owner))

    def set(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> dict[str, Any]:
        """Set keys (others are kept); answers the whole store."""
        return self._client.send(
            calls.set_store(self.scope, self.owner, {**(values or {}), **more})
        )

    def delete(self, key: str) -> None:
        """Remove one key (NotFound when it is absent)."""
        self._client.send(calls.delete_store_key(self.scope, self.owner, key))

    def __repr__(self) -> str:
        return f"Store({self.scope!r}, {self.owner!r})"


class Stores:
    """``client.stores``: ``global_(namespace)`` ($.gS) and ``chain(chain_id)`` ($.cS)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def global_(self, namespace: str = "sandbox") -> Store:
        """The global store of a namespace."""
        return Store(self._client, "global", namespace)

    def chain(self, chain_id: str) -> Store:
        """The store shared by the mocks of one chain."""
        return Store(self._client, "chain", chain_id)


class Requests:
    """``client.requests``: what the server received, newest first."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(
        self,
        *,
        mock_id: str | None = None,
        namespace: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[LoggedRequest]:
        """Requests a mock answered: matched mock, status, deliveries planned."""
        return self._client.send(
            calls.list_requests(mock_id=mock_id, namespace=namespace, offset=offset, limit=limit)
        )

    def unmatched(
        self, *, namespace: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[LoggedRequest]:
        """Requests no mock matched, with the closest mocks and why each failed."""
        return self._client.send(
            calls.list_unmatched(namespace=namespace, offset=offset, limit=limit)
        )

    def clear(self) -> None:
        """Forget both request logs."""
        self._client.send(calls.clear_requests())


class Namespaces:
    """``client.namespaces``: ``{"name", "description", "createdAt"}`` documents."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> list[dict[str, Any]]:
        """The caller's namespaces (admins: all), by name."""
        return self._client.send(calls.list_namespaces())

    def get(self, name: str) -> dict[str, Any]:
        """One namespace."""
        return self._client.send(calls.get_namespace(name))

    def create(self, name: str, *, description: str | None = None) -> dict[str, Any]:
        """Create a namespace (admins; Conflict when it exists)."""
        return self._client.send(calls.create_namespace(name, description=description))

    def update(self, name: str, *, description: str) -> dict[str, Any]:
        """Change a namespace's description (owners and admins)."""
        return self._client.send(calls.update_namespace(name, description=description))

    def delete(self, name: str) -> dict[str, Any]:
        """Delete a namespace: members and webhooks go, its mocks are soft-deleted (admins)."""
        return self._client.send(calls.delete_namespace(name))


class WebhookSet:
    """The change webhooks of one namespace, or the admin webhooks."""

    def __init__(self, client: Client, namespace: str | None) -> None:
        self._client = client
        self.namespace = namespace  # the namespace, or None for the admin webhooks

    def list(self) -> list[dict[str, Any]]:
        """Every webhook, oldest first; signing secrets masked."""
        return self._client.send(calls.list_webhooks(self.namespace))

    def save(self, webhook: Mapping[str, Any]) -> dict[str, Any]:
        """Create a webhook, or replace the one with the same id (a masked secret is kept)."""
        return self._client.send(calls.save_webhook(self.namespace, webhook))

    def delete(self, webhook_id: str) -> None:
        """Remove one (NotFound when absent)."""
        self._client.send(calls.delete_webhook(self.namespace, webhook_id))

    def __repr__(self) -> str:
        return f"WebhookSet({self.namespace!r})"


class Webhooks:
    """``client.webhooks``: ``namespace(ns)`` and ``admin()`` change webhooks."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def namespace(self, namespace: str) -> WebhookSet:
        """The change webhooks of one namespace."""
        return WebhookSet(self._client, namespace)

    def admin(self) -> WebhookSet:
        """The admin (server-wide) change webhooks."""
        return WebhookSet(self._client, None)
