"""Every admin API call as a value: what to send, and how to read the answer.

The builders here do no I/O, so the synchronous and the asyncio client share them and differ
only in how they send; and each call's request and parsing are tested without a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import orjson

from mockback.client.errors import ApiError, UnexpectedAnswer, WaitTimedOut, api_error
from mockback.client.models import Delivery, LoggedRequest, Mock, Page, SavedMock

T = TypeVar("T")

WAIT_MARGIN = 10.0
"""Seconds the HTTP read timeout of ``deliveries.wait`` exceeds the wait itself."""

Params = tuple[tuple[str, str], ...]


def _keep(data: Any) -> Any:
    return data


def _nothing(_: Any) -> None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(Generic[T]):
    """One HTTP exchange with the admin API."""

    method: str  # HTTP method
    path: str  # path below the server URL, segments already escaped
    params: Params = ()  # query parameters, in order
    body: bytes | None = None  # JSON request body, or None to send none
    timeout: float | None = None  # read timeout when it must differ from the client's
    parse: Callable[[Any], T]  # builds the result from the decoded JSON answer (None for 204)
    refine: Callable[[ApiError], ApiError] | None = None  # a more specific error, when known

    def result(self, status_code: int, content: bytes) -> T:
        """The call's result from the answer, or the error the answer stands for."""
        data = _decode(content)
        if status_code >= 400:
            error = api_error(status_code, data, method=self.method, path=self.path)
            raise self.refine(error) if self.refine else error
        try:
            return self.parse(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            shown = content[:200].decode("utf-8", "replace")
            raise UnexpectedAnswer(
                f"the answer to {self.method} {self.path} is not what Mockback sends "
                f"({type(exc).__name__}: {exc}): {shown!r}"
            ) from exc


def _decode(content: bytes) -> Any:
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode("utf-8", "replace")


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


def _seg(value: str) -> str:
    return quote(value, safe="")


def _params(**values: Any) -> Params:
    """Query parameters from keyword values: None is left out, booleans are "true"/"false"."""
    out: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((name, "true" if value else "false"))
        elif isinstance(value, str | int | float):
            out.append((name, str(value)))
        else:
            out.extend((name, str(v)) for v in value)
    return tuple(out)


def _statuses(status: str | Iterable[str] | None) -> str | None:
    if status is None or isinstance(status, str):
        return status
    return ",".join(status)


def _mock(data: Any) -> Mock:
    return dict(data["mock"])


# ---- mocks


def create_mock(mock: Mapping[str, Any], *, strict: bool | None = None) -> Call[SavedMock]:
    """POST /api/v1/mocks: create, or overwrite the mock with the same id."""
    return Call(
        method="POST",
        path="/api/v1/mocks",
        params=_params(strict=strict),
        body=_json(mock),
        parse=SavedMock.from_json,
    )


def get_mock(mock_id: str) -> Call[Mock]:
    """GET /api/v1/mocks/{id}: one mock, deleted ones too."""
    return Call(method="GET", path=f"/api/v1/mocks/{_seg(mock_id)}", parse=dict)


def list_mocks(
    *,
    namespace: str | None = None,
    tags: Iterable[str] | None = None,
    search: str | None = None,
    include_deleted: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> Call[Page[Mock]]:
    """GET /api/v1/mocks: a page of mocks in creation order."""
    params = _params(
        namespace=namespace,
        tags=",".join(tags) if tags else None,
        search=search,
        includeDeleted=include_deleted or None,
        offset=offset,
        limit=limit,
    )
    return Call(
        method="GET",
        path="/api/v1/mocks",
        params=params,
        parse=lambda data: Page.from_json(data, dict),
    )


def update_mock(
    mock_id: str, mock: Mapping[str, Any], *, strict: bool | None = None
) -> Call[SavedMock]:
    """PUT /api/v1/mocks/{id}: replace an existing mock as a whole."""
    return Call(
        method="PUT",
        path=f"/api/v1/mocks/{_seg(mock_id)}",
        params=_params(strict=strict),
        body=_json(mock),
        parse=SavedMock.from_json,
    )


def patch_mock(
    mock_id: str, changes: Mapping[str, Any], *, strict: bool | None = None
) -> Call[SavedMock]:
    """PATCH /api/v1/mocks/{id}: a JSON merge patch (null removes a field)."""
    return Call(
        method="PATCH",
        path=f"/api/v1/mocks/{_seg(mock_id)}",
        params=_params(strict=strict),
        body=_json(changes),
        parse=SavedMock.from_json,
    )


def delete_mock(mock_id: str) -> Call[Mock]:
    """DELETE /api/v1/mocks/{id}: soft delete."""
    return Call(method="DELETE", path=f"/api/v1/mocks/{_seg(mock_id)}", parse=_mock)


def restore_mock(mock_id: str) -> Call[Mock]:
    """POST /api/v1/mocks/{id}/restore: undo a soft delete."""
    return Call(method="POST", path=f"/api/v1/mocks/{_seg(mock_id)}/restore", parse=_mock)


# ---- deliveries


def list_deliveries(
    *,
    mock_id: str | None = None,
    namespace: str | None = None,
    status: str | Iterable[str] | None = None,
    request_id: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Call[Page[Delivery]]:
    """GET /api/v1/deliveries: newest first, without attempts."""
    params = _params(
        mockId=mock_id,
        namespace=namespace,
        status=_statuses(status),
        requestId=request_id,
        offset=offset,
        limit=limit,
    )
    return Call(
        method="GET",
        path="/api/v1/deliveries",
        params=params,
        parse=lambda data: Page.from_json(data, Delivery.from_json),
    )


def get_delivery(delivery_id: str) -> Call[Delivery]:
    """GET /api/v1/deliveries/{id}: one delivery with its attempts."""
    return Call(
        method="GET", path=f"/api/v1/deliveries/{_seg(delivery_id)}", parse=Delivery.from_json
    )


def redeliver(delivery_id: str) -> Call[Delivery]:
    """POST /api/v1/deliveries/{id}/redeliver: send it again now, same id."""
    return Call(
        method="POST",
        path=f"/api/v1/deliveries/{_seg(delivery_id)}/redeliver",
        parse=Delivery.from_json,
    )


def _wait_timed_out(error: ApiError) -> ApiError:
    if error.status_code != 408:
        return error
    items = error.body.get("items", []) if isinstance(error.body, dict) else []
    return WaitTimedOut(
        deliveries=tuple(Delivery.from_json(d) for d in items),
        status_code=error.status_code,
        message=error.message,
        details=error.details,
        method=error.method,
        path=error.path,
        body=error.body,
    )


def wait_deliveries(
    count: int = 1,
    timeout: float = 10.0,
    *,
    mock_id: str | None = None,
    namespace: str | None = None,
    status: str | Iterable[str] | None = None,
) -> Call[tuple[Delivery, ...]]:
    """POST /api/v1/deliveries/wait: until ``count`` matching deliveries have ended."""
    body: dict[str, Any] = {"count": count, "timeout": timeout}
    for key, value in (("mockId", mock_id), ("namespace", namespace)):
        if value is not None:
            body[key] = value
    if status is not None:
        body["status"] = _statuses(status)
    return Call(
        method="POST",
        path="/api/v1/deliveries/wait",
        body=_json(body),
        timeout=timeout + WAIT_MARGIN,
        parse=lambda data: tuple(Delivery.from_json(d) for d in data.get("items", [])),
        refine=_wait_timed_out,
    )


def flush_deliveries() -> Call[int]:
    """POST /api/v1/deliveries/flush: every scheduled delivery is due now."""
    return Call(
        method="POST", path="/api/v1/deliveries/flush", parse=lambda data: int(data["flushed"])
    )


# ---- stores


def _store_path(scope: str, owner: str) -> tuple[str, Params]:
    if scope == "global":
        return "/api/v1/stores/global", _params(namespace=owner)
    return f"/api/v1/stores/chain/{_seg(owner)}", ()


def get_store(scope: str, owner: str) -> Call[dict[str, Any]]:
    """GET a global (owner: namespace) or chain (owner: chain id) store."""
    path, params = _store_path(scope, owner)
    return Call(method="GET", path=path, params=params, parse=dict)


def set_store(scope: str, owner: str, values: Mapping[str, Any]) -> Call[dict[str, Any]]:
    """POST: merge values into a store; the answer is the whole store."""
    path, params = _store_path(scope, owner)
    return Call(method="POST", path=path, params=params, body=_json(dict(values)), parse=dict)


def delete_store_key(scope: str, owner: str, key: str) -> Call[None]:
    """DELETE one key of a store."""
    path, params = _store_path(scope, owner)
    return Call(method="DELETE", path=f"{path}/{_seg(key)}", params=params, parse=_nothing)


# ---- namespaces


def _items(data: Any) -> list[dict[str, Any]]:
    return [dict(item) for item in data["items"]]


def list_namespaces() -> Call[list[dict[str, Any]]]:
    """GET /api/v1/namespaces: the caller's namespaces (admins: all), by name."""
    return Call(method="GET", path="/api/v1/namespaces", parse=_items)


def get_namespace(name: str) -> Call[dict[str, Any]]:
    """GET /api/v1/namespaces/{ns}: one namespace."""
    return Call(method="GET", path=f"/api/v1/namespaces/{_seg(name)}", parse=dict)


def create_namespace(name: str, *, description: str | None = None) -> Call[dict[str, Any]]:
    """POST /api/v1/namespaces: a new namespace (Conflict when it exists)."""
    body: dict[str, Any] = {"name": name}
    if description is not None:
        body["description"] = description
    return Call(method="POST", path="/api/v1/namespaces", body=_json(body), parse=dict)


def update_namespace(name: str, *, description: str) -> Call[dict[str, Any]]:
    """PATCH /api/v1/namespaces/{ns}: change the description."""
    return Call(
        method="PATCH",
        path=f"/api/v1/namespaces/{_seg(name)}",
        body=_json({"description": description}),
        parse=dict,
    )


def delete_namespace(name: str) -> Call[dict[str, Any]]:
    """DELETE /api/v1/namespaces/{ns}: members and webhooks go, mocks are soft-deleted."""
    return Call(method="DELETE", path=f"/api/v1/namespaces/{_seg(name)}", parse=dict)


# ---- change webhooks


def _webhooks_path(namespace: str | None) -> str:
    if namespace is None:
        return "/api/v1/admin/webhooks"
    return f"/api/v1/namespaces/{_seg(namespace)}/webhooks"


def list_webhooks(namespace: str | None) -> Call[list[dict[str, Any]]]:
    """GET the change webhooks of a namespace, or the admin webhooks (None); secrets masked."""
    return Call(method="GET", path=_webhooks_path(namespace), parse=_items)


def save_webhook(namespace: str | None, webhook: Mapping[str, Any]) -> Call[dict[str, Any]]:
    """POST: create a change webhook, or replace the one with the same id."""
    return Call(
        method="POST", path=_webhooks_path(namespace), body=_json(dict(webhook)), parse=dict
    )


def delete_webhook(namespace: str | None, webhook_id: str) -> Call[None]:
    """DELETE one change webhook of a namespace, or an admin webhook (None)."""
    return Call(
        method="DELETE",
        path=f"{_webhooks_path(namespace)}/{_seg(webhook_id)}",
        parse=_nothing,
    )


# ---- request logs and health


def list_requests(
    *,
    mock_id: str | None = None,
    namespace: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Call[Page[LoggedRequest]]:
    """GET /api/v1/requests: served requests, newest first."""
    return Call(
        method="GET",
        path="/api/v1/requests",
        params=_params(mockId=mock_id, namespace=namespace, offset=offset, limit=limit),
        parse=lambda data: Page.from_json(data, LoggedRequest.from_json),
    )


def list_unmatched(
    *, namespace: str | None = None, offset: int = 0, limit: int = 100
) -> Call[Page[LoggedRequest]]:
    """GET /api/v1/undefined-requests: unmatched requests with their near misses."""
    return Call(
        method="GET",
        path="/api/v1/undefined-requests",
        params=_params(namespace=namespace, offset=offset, limit=limit),
        parse=lambda data: Page.from_json(data, LoggedRequest.from_json),
    )


def clear_requests() -> Call[None]:
    """DELETE /api/v1/requests: forget both request logs."""
    return Call(method="DELETE", path="/api/v1/requests", parse=_nothing)


def health() -> Call[dict[str, Any]]:
    """GET /health: status, version, mock count."""
    return Call(method="GET", path="/health", parse=_keep)
