"""Mock validation: defaults, errors naming every field, unknown-field warnings, limits."""

from __future__ import annotations

from typing import Any

import pytest

from mockback.domain.errors import ValidationFailed
from mockback.schema.mocks import parse_mock


def problems(doc: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        parse_mock(doc, **kwargs)
    return {p.field: p.problem for p in info.value.details}


def test_defaults_are_filled() -> None:
    """A minimal mock gets an id, the sandbox namespace, status 200 and callback defaults."""
    parsed = parse_mock({"http": {"route": "/x"}, "webhooks": [{"url": "http://h/cb"}]})
    doc = parsed.document
    assert len(doc["id"]) == 36
    assert doc["namespace"] == "sandbox"
    assert doc["response"]["statusCode"] == 200
    cb = doc["webhooks"][0]
    assert (
        cb["type"],
        cb["trigger"],
        cb["timeout"],
        cb["retryCount"],
        cb["retryDelay"],
        cb["async"],
        cb["method"],
    ) == ("http", "always", 30.0, 0, 1.0, True, "POST")


def test_every_bad_field_is_named() -> None:
    """All problems of a document are reported at once, each with its field path."""
    found = problems(
        {
            "http": {"route": "no-slash", "httpMethod": "GE T"},
            "response": {"statusCode": 42},
            "webhooks": [{"type": "kafka"}, {"url": "http://x", "method": "TRACE"}],
        }
    )
    assert set(found) == {
        "http.route",
        "http.httpMethod",
        "response.statusCode",
        "webhooks[0]",
        "webhooks[1].method",
    }
    assert "kafkaBrokers" in found["webhooks[0]"]


def test_route_is_required() -> None:
    """A mock without http.route is rejected naming that field."""
    assert problems({"http": {}}) == {"http.route": "is required"}


def test_unknown_fields_warn_with_suggestion_and_strict_rejects() -> None:
    """Unknown fields are kept with a warning (and a suggestion); strict mode rejects them."""
    doc = {"id": "w", "http": {"route": "/w"}, "respose": {"statusCode": 201}}
    parsed = parse_mock(doc)
    assert parsed.warnings == ['"respose": unknown field, did you mean "response"?']
    assert "respose" in problems(doc, strict=True)


def test_nested_unknown_field_is_reported_with_path() -> None:
    """An unknown field inside a callback names its full path."""
    parsed = parse_mock({"http": {"route": "/w"}, "webhooks": [{"url": "http://x", "retries": 3}]})
    assert parsed.warnings[0].startswith('"webhooks[0].retries": unknown field')


@pytest.mark.parametrize(
    ("callback", "field"),
    [
        ({"url": "http://x", "retryCount": 101}, "webhooks[0].retryCount"),  # over 100
        ({"url": "http://x", "timeout": 301}, "webhooks[0].timeout"),  # over 300 s
        ({"url": "http://x", "retryDelay": 86_401}, "webhooks[0].retryDelay"),  # over a day
        ({"url": "http://x", "delay": 604_801}, "webhooks[0].delay"),  # over 7 days
    ],
)
def test_limits_are_named(callback: dict[str, Any], field: str) -> None:
    """Exceeding a configured limit is an error naming the field and the limit."""
    found = problems({"http": {"route": "/l"}, "webhooks": [callback]})
    assert "limit" in found[field]


def test_too_many_callbacks() -> None:
    """More than 100 callbacks on one mock is rejected."""
    found = problems({"http": {"route": "/l"}, "webhooks": [{"url": "http://x"}] * 101})
    assert "limit is 100" in found["webhooks"]


def test_bad_regex_is_rejected() -> None:
    """A 'matches' condition with an invalid regular expression is rejected at save time."""
    found = problems(
        {
            "http": {
                "route": "/r",
                "conditions": [{"path": "$.a", "assertAction": "matches", "value": "("}],
            }
        }
    )
    assert "regular expression" in found["http.conditions[0]"]


def test_not_an_object() -> None:
    """A JSON array or string is not a mock."""
    assert "" in problems([1, 2])


def test_put_id_must_agree_with_url() -> None:
    """A body id different from the URL's id is rejected."""
    assert "id" in problems({"id": "a", "http": {"route": "/x"}}, id_override="b")


def test_older_extractors_form_becomes_extractions() -> None:
    """The older extractors[] form is accepted and converted to store writes."""
    parsed = parse_mock(
        {
            "http": {"route": "/e"},
            "extractors": [
                {"from": "body", "jsonPath": "$.orderId", "toStore": "global", "key": "k"},
                {"from": "header", "jsonPath": "X-Trace", "toStore": "chain", "key": "t"},
            ],
        }
    )
    m = parsed.to_mock(created_at=None, updated_at=None)  # type: ignore[arg-type]
    assert [(e.scope.value, e.key, e.expression) for e in m.extractions] == [
        ("global", "k", "$.req.orderId"),
        ("chain", "t", "$.reqHeader.X-Trace[0]"),
    ]


def test_unparseable_body_condition_path_is_rejected() -> None:
    """A body condition path that cannot be parsed is a 400 at save, not a mock that never matches."""
    found = problems({"http": {"route": "/p", "conditions": [{"path": "$.a[", "value": 1}]}})
    assert "is not a path" in found["http.conditions"]
