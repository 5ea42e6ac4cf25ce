"""The client's calls as values: what each sends, and what each answer becomes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mockback.client import calls, errors
from mockback.client.calls import Call
from mockback.client.models import Delivery, Page, SavedMock


def _body(call: Call[Any]) -> Any:
    assert call.body is not None
    return orjson.loads(call.body)


@pytest.mark.parametrize(
    ("call", "method", "path", "params"),
    [
        # mocks: create with and without strict
        (calls.create_mock({"http": {"route": "/a"}}), "POST", "/api/v1/mocks", ()),
        (
            calls.create_mock({}, strict=True),
            "POST",
            "/api/v1/mocks",
            (("strict", "true"),),
        ),
        # ids are escaped as one path segment
        (calls.get_mock("a/b c"), "GET", "/api/v1/mocks/a%2Fb%20c", ()),
        (calls.update_mock("m", {}), "PUT", "/api/v1/mocks/m", ()),
        (
            calls.patch_mock("m", {}, strict=False),
            "PATCH",
            "/api/v1/mocks/m",
            (("strict", "false"),),
        ),
        (calls.delete_mock("m"), "DELETE", "/api/v1/mocks/m", ()),
        (calls.restore_mock("m"), "POST", "/api/v1/mocks/m/restore", ()),
        # list: filters left out when not given, tags joined, includeDeleted only when true
        (
            calls.list_mocks(),
            "GET",
            "/api/v1/mocks",
            (("offset", "0"), ("limit", "100")),
        ),
        (
            calls.list_mocks(
                namespace="ns", tags=["a", "b"], search="pay", include_deleted=True, limit=5
            ),
            "GET",
            "/api/v1/mocks",
            (
                ("namespace", "ns"),
                ("tags", "a,b"),
                ("search", "pay"),
                ("includeDeleted", "true"),
                ("offset", "0"),
                ("limit", "5"),
            ),
        ),
        # deliveries: statuses as a list become one comma-separated parameter
        (
            calls.list_deliveries(mock_id="m", status=["failed", "blocked"], request_id="req_1"),
            "GET",
            "/api/v1/deliveries",
            (
                ("mockId", "m"),
                ("status", "failed,blocked"),
                ("requestId", "req_1"),
                ("offset", "0"),
                ("limit", "100"),
            ),
        ),
        (calls.get_delivery("dlv_1"), "GET", "/api/v1/deliveries/dlv_1", ()),
        (calls.redeliver("dlv_1"), "POST", "/api/v1/deliveries/dlv_1/redeliver", ()),
        (calls.flush_deliveries(), "POST", "/api/v1/deliveries/flush", ()),
        # stores: the global store is per namespace, a chain store per chain id
        (calls.get_store("global", "ns"), "GET", "/api/v1/stores/global", (("namespace", "ns"),)),
        (calls.get_store("chain", "c/1"), "GET", "/api/v1/stores/chain/c%2F1", ()),
        (
            calls.delete_store_key("global", "sandbox", "k 1"),
            "DELETE",
            "/api/v1/stores/global/k%201",
            (("namespace", "sandbox"),),
        ),
        (calls.delete_store_key("chain", "c", "k"), "DELETE", "/api/v1/stores/chain/c/k", ()),
        # request logs and health
        (
            calls.list_requests(mock_id="m"),
            "GET",
            "/api/v1/requests",
            (("mockId", "m"), ("offset", "0"), ("limit", "100")),
        ),
        (
            calls.list_unmatched(namespace="ns"),
            "GET",
            "/api/v1/undefined-requests",
            (("namespace", "ns"), ("offset", "0"), ("limit", "100")),
        ),
        (calls.clear_requests(), "DELETE", "/api/v1/requests", ()),
        (calls.health(), "GET", "/health", ()),
    ],
)
def test_call_addresses(
    call: Call[Any], method: str, path: str, params: tuple[tuple[str, str], ...]
) -> None:
    """Each call goes to the documented method, path and query parameters."""
    assert (call.method, call.path, call.params) == (method, path, params)


def test_create_sends_the_document_as_given() -> None:
    """A mock is sent as JSON exactly as the caller wrote it."""
    mock = {"id": "m", "http": {"route": "/a"}, "webhooks": [{"url": "http://x", "body": None}]}
    assert _body(calls.create_mock(mock)) == mock


def test_store_set_sends_the_values() -> None:
    """Setting store values posts the object to the store's path."""
    call = calls.set_store("chain", "checkout", {"orderId": "o-1"})
    assert (call.method, call.path) == ("POST", "/api/v1/stores/chain/checkout")
    assert _body(call) == {"orderId": "o-1"}


def test_wait_body_and_timeout() -> None:
    """A wait sends only the filters given and allows the HTTP read longer than the wait."""
    call = calls.wait_deliveries(3, 2.5, mock_id="m", status=["succeeded"])
    assert _body(call) == {"count": 3, "timeout": 2.5, "mockId": "m", "status": "succeeded"}
    assert call.timeout == 2.5 + calls.WAIT_MARGIN
    assert _body(calls.wait_deliveries()) == {"count": 1, "timeout": 10.0}


DELIVERY = {
    "id": "dlv_1",
    "mockId": "m",
    "namespace": "sandbox",
    "requestId": "req_1",
    "callbackIndex": 0,
    "callbackId": None,
    "type": "http",
    "target": "http://h/p",
    "status": "succeeded",
    "createdAt": "2025-01-02T03:04:05.5Z",
    "dueAt": "2025-01-02T03:04:05.5Z",
    "finishedAt": None,
    "attemptCount": 1,
    "request": {"method": "POST", "url": "http://h/p", "headers": {"A": "1"}, "body": "{}"},
    "error": None,
    "attempts": [],
}


def test_answers_become_typed_values() -> None:
    """Answers are parsed into the call's result type."""
    saved = calls.create_mock({}).result(
        201, orjson.dumps({"overwritten": False, "mock": {"id": "g"}, "warnings": ["w"]})
    )
    assert saved == SavedMock(mock={"id": "g"}, overwritten=False, warnings=("w",))
    page = calls.list_deliveries().result(
        200, orjson.dumps({"items": [DELIVERY], "total": 7, "offset": 0, "limit": 1})
    )
    assert isinstance(page, Page) and page.total == 7 and page.items[0].id == "dlv_1"
    assert calls.flush_deliveries().result(200, b'{"flushed": 4}') == 4
    assert calls.delete_store_key("global", "s", "k").result(204, b"") is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, errors.InvalidRequest),  # validation
        (422, errors.InvalidRequest),  # validation by the framework
        (401, errors.AccessDenied),  # no token
        (403, errors.AccessDenied),  # token without the right
        (404, errors.NotFound),  # no such object
        (409, errors.Conflict),  # contradicts what is stored
        (413, errors.PayloadTooLarge),  # over a limit
        (418, errors.ApiError),  # any other 4xx
        (500, errors.ServerError),  # the server failed
        (503, errors.ServerError),  # not ready
    ],
)
def test_error_answers_raise_by_status(status: int, kind: type[errors.ApiError]) -> None:
    """An error answer raises the exception of its status, with the server's own words."""
    answer = {"error": "Bad thing.", "details": [{"field": "http.route", "problem": "is required"}]}
    with pytest.raises(kind) as caught:
        calls.get_mock("m").result(status, orjson.dumps(answer))
    exc = caught.value
    assert type(exc) is kind
    assert exc.status_code == status and exc.message == "Bad thing."
    assert exc.details == (errors.Problem(field="http.route", problem="is required"),)
    assert str(exc) == (f"Bad thing. ({status} on GET /api/v1/mocks/m)\n  http.route: is required")


def test_error_without_the_error_shape_keeps_the_text() -> None:
    """A non-JSON error answer (a proxy's page) becomes the message."""
    with pytest.raises(errors.ServerError, match="Bad Gateway"):
        calls.health().result(502, b"Bad Gateway\n<html>")


def test_wait_timeout_carries_the_ended_deliveries() -> None:
    """A 408 from wait raises WaitTimedOut holding the deliveries that did end."""
    answer = {
        "error": "Only 1 of 2 deliveries ended within 1 s.",
        "details": [],
        "items": [DELIVERY],
    }
    with pytest.raises(errors.WaitTimedOut) as caught:
        calls.wait_deliveries(2, 1).result(408, orjson.dumps(answer))
    assert [d.id for d in caught.value.deliveries] == ["dlv_1"]
    assert caught.value.message.startswith("Only 1 of 2")


def test_wait_other_errors_stay_as_they_are() -> None:
    """A 400 from wait is an InvalidRequest, not a timeout."""
    with pytest.raises(errors.InvalidRequest):
        calls.wait_deliveries(1, 1, status="nope").result(400, b'{"error": "Unknown status."}')


def test_delivery_parsing() -> None:
    """A delivery keeps its times as datetimes, its request, and the raw answer."""
    d = Delivery.from_json({**DELIVERY, "attempts": [{"number": 1, "statusCode": 500}]})
    assert d.created_at is not None and d.created_at.microsecond == 500000
    assert d.created_at.utcoffset() is not None
    assert d.request is not None and d.request.headers == {"A": "1"}
    assert d.attempts[0].status_code == 500 and d.ended
    assert d.raw["id"] == "dlv_1"
    assert not Delivery.from_json({**DELIVERY, "status": "scheduled"}).ended


@pytest.mark.parametrize(
    ("call", "content"),
    [
        (calls.flush_deliveries(), b"<html>hello</html>"),  # a web page, not JSON
        (calls.list_deliveries(), b'{"items": [{"no": "id"}]}'),  # a delivery without its id
        (calls.create_mock({}), b"[]"),  # a list where an object belongs
    ],
)
def test_answers_of_another_shape_are_unexpected(call: Call[Any], content: bytes) -> None:
    """A success answer Mockback would never send raises UnexpectedAnswer naming the call."""
    with pytest.raises(errors.UnexpectedAnswer, match=f"{call.method} {call.path}"):
        call.result(200, content)
