"""Matching: routes, methods, conditions, ranking, near misses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from mockback.domain.mocks import Mock
from mockback.domain.requests import RequestSnapshot
from mockback.matching import MockIndex, make_candidate
from mockback.schema.mocks import parse_mock

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def mock(doc: dict[str, Any], seq: int = 1) -> Mock:
    return parse_mock(doc).to_mock(created_at=NOW, updated_at=NOW, seq=seq)


def req(
    method: str = "GET",
    path: str = "/",
    body: Any = None,
    query: dict[str, list[str]] | None = None,
    headers: dict[str, list[str]] | None = None,
) -> RequestSnapshot:
    raw = b"" if body is None else orjson.dumps(body)
    return RequestSnapshot(
        method=method, path=path, body=raw, query=query or {}, headers=headers or {}
    )


def index_of(*mocks: Mock) -> MockIndex:
    index = MockIndex()
    for m in mocks:
        index.put(make_candidate(m))
    return index


def winner(index: MockIndex, request: RequestSnapshot, ns: str = "sandbox") -> str | None:
    result = index.match(ns, request, request.path)
    return None if result.candidate is None else result.candidate.mock.id


@pytest.mark.parametrize(
    ("route", "path", "params"),
    [
        ("/api/payments/:id", "/api/payments/pi_1", {"id": "pi_1"}),  # colon parameter
        ("/api/payments/{id}", "/api/payments/pi_2", {"id": "pi_2"}),  # brace parameter
        ("/a/:x/b/{y}", "/a/1/b/2", {"x": "1", "y": "2"}),  # two parameters
        ("/hello", "/hello/", {}),  # trailing slash ignored
        ("/", "/", {}),  # root
    ],
)
def test_route_parameters_are_bound(route: str, path: str, params: dict[str, str]) -> None:
    """A route with parameters matches and binds each parameter by name."""
    index = index_of(mock({"id": "m", "http": {"route": route}}))
    result = index.match("sandbox", req(path=path), path)
    assert result.candidate is not None
    assert result.path_params == params


def test_method_must_match_and_absent_method_matches_any() -> None:
    """A mock with httpMethod answers only that method; one without answers every method."""
    index = index_of(
        mock({"id": "post", "http": {"route": "/p", "httpMethod": "POST"}}),
        mock({"id": "any", "http": {"route": "/q"}}),
    )
    assert winner(index, req("POST", "/p")) == "post"
    assert winner(index, req("GET", "/p")) is None
    assert winner(index, req("DELETE", "/q")) == "any"


def test_priority_then_literal_segments_then_age() -> None:
    """Higher priority wins; then the route with more literal segments; then the older mock."""
    index = index_of(
        mock({"id": "param", "http": {"route": "/u/:id"}}, seq=1),
        mock({"id": "literal", "http": {"route": "/u/me"}}, seq=2),
    )
    assert winner(index, req(path="/u/me")) == "literal"
    index.put(
        make_candidate(mock({"id": "prio", "priority": 5, "http": {"route": "/u/:x"}}, seq=3))
    )
    assert winner(index, req(path="/u/me")) == "prio"
    older = index_of(
        mock({"id": "old", "http": {"route": "/z"}}, seq=1),
        mock({"id": "new", "http": {"route": "/z"}}, seq=2),
    )
    assert winner(older, req(path="/z")) == "old"


@pytest.mark.parametrize(
    ("action", "value", "body", "matches"),
    [
        ("equals", 2500, {"amount": 2500}, True),  # same number
        ("equals", 2500, {"amount": 2501}, False),  # other number
        ("equals", 1, {"amount": True}, False),  # true is not 1 in JSON
        ("not_equals", "x", {"amount": "y"}, True),  # differs
        ("not_equals", "x", {}, True),  # missing is not equal
        ("contains", "ell", {"amount": "hello"}, True),  # substring
        ("contains", 3, {"amount": [1, 3]}, True),  # list element
        ("contains", "k", {"amount": {"k": 1}}, True),  # object key
        ("not_contains", "z", {"amount": "hello"}, True),  # no substring
        ("matches", "^h.l+o$", {"amount": "hello"}, True),  # regex
        ("matches", "^x", {"amount": "hello"}, False),  # regex fails
        ("any", None, {"amount": None}, True),  # present with null
        ("any", None, {}, False),  # absent
        ("notEmpty", None, {"amount": ""}, False),  # empty string
        ("notEmpty", None, {"amount": [0]}, True),  # non-empty list
        ("empty", None, {}, True),  # absent counts as empty
        ("empty", None, {"amount": {}}, True),  # empty object
        ("empty", None, {"amount": 0}, False),  # zero is a value
    ],
)
def test_body_condition_actions(action: str, value: Any, body: Any, matches: bool) -> None:
    """Every assertAction compares the body's value as documented."""
    m = mock(
        {
            "id": "c",
            "http": {
                "route": "/c",
                "conditions": [{"path": "$.amount", "assertAction": action, "value": value}],
            },
        }
    )
    assert (winner(index_of(m), req("POST", "/c", body)) == "c") is matches


def test_nested_body_path() -> None:
    """Body conditions follow nested paths with indexes and quoted keys."""
    m = mock(
        {
            "id": "n",
            "http": {
                "route": "/n",
                "conditions": [
                    {"path": "$.items[1]['sku id']", "assertAction": "equals", "value": "B"}
                ],
            },
        }
    )
    assert winner(index_of(m), req("POST", "/n", {"items": [{}, {"sku id": "B"}]})) == "n"


def test_query_and_header_conditions() -> None:
    """Query and header conditions read the first value; header names ignore case."""
    m = mock(
        {
            "id": "qh",
            "http": {
                "route": "/qh",
                "queryParams": [{"path": "mode", "value": "test"}],
                "header": [{"path": "X-Api-Key", "assertAction": "notEmpty"}],
            },
        }
    )
    index = index_of(m)
    good = req(path="/qh", query={"mode": ["test"]}, headers={"x-api-key": ["k"]})
    assert winner(index, good) == "qh"
    assert (
        winner(index, req(path="/qh", query={"mode": ["live"]}, headers={"x-api-key": ["k"]}))
        is None
    )
    assert winner(index, req(path="/qh", query={"mode": ["test"]})) is None


def test_query_number_compared_as_text() -> None:
    """A numeric condition value matches the same digits in a query parameter."""
    m = mock({"id": "qn", "http": {"route": "/qn", "queryParams": [{"path": "n", "value": 10}]}})
    assert winner(index_of(m), req(path="/qn", query={"n": ["10"]})) == "qn"


def test_near_misses_name_the_reason() -> None:
    """Without a match, the closest mocks are listed with the reason each failed."""
    index = index_of(
        mock({"id": "wrong-method", "http": {"route": "/pay", "httpMethod": "POST"}}),
        mock(
            {
                "id": "wrong-cond",
                "http": {
                    "route": "/pay",
                    "httpMethod": "GET",
                    "conditions": [{"path": "$.amount", "value": 1}],
                },
            }
        ),
    )
    result = index.match("sandbox", req("GET", "/pay"), "/pay")
    assert result.candidate is None
    reasons = {m.mock_id: m.reason for m in result.near_misses}
    assert "method GET does not match POST" in reasons["wrong-method"]
    assert "body $.amount equals 1" in reasons["wrong-cond"]


def test_near_misses_by_route_when_no_route_matches() -> None:
    """When no route fits, the mocks with the most similar routes are listed."""
    index = index_of(
        mock({"id": "orders", "http": {"route": "/api/orders"}}),
        mock({"id": "other", "http": {"route": "/zzz"}}),
    )
    result = index.match("sandbox", req(path="/api/order"), "/api/order")
    assert result.near_misses[0].mock_id == "orders"


def test_remove_and_replace() -> None:
    """Removing a mock stops it matching; putting a new version replaces the old route."""
    index = index_of(mock({"id": "m", "http": {"route": "/old"}}))
    index.put(make_candidate(mock({"id": "m", "http": {"route": "/new"}})))
    assert winner(index, req(path="/old")) is None
    assert winner(index, req(path="/new")) == "m"
    index.remove("m")
    assert winner(index, req(path="/new")) is None
    assert len(index) == 0


def test_namespaces_are_separate() -> None:
    """A mock of one namespace does not answer in another."""
    index = index_of(mock({"id": "t", "namespace": "team", "http": {"route": "/x"}}))
    assert winner(index, req(path="/x"), "team") == "t"
    assert winner(index, req(path="/x"), "sandbox") is None


def test_lookup_does_not_scan_every_mock() -> None:
    """With 10,000 mocks on distinct routes, a lookup reaches only the mocks of the request's route."""
    index = index_of(
        *(
            mock({"id": f"m{i}", "http": {"route": f"/r{i}/items/:id"}}, seq=i)
            for i in range(10_000)
        )
    )
    assert winner(index, req(path="/r9999/items/7")) == "m9999"
    assert [c.mock.id for c, _ in index._route_matches("sandbox", ["r9999", "items", "7"])] == [
        "m9999"
    ]
