"""Export documents: splitting per namespace, reading mocks, and what an import sends."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from mockback.client import Client
from mockback.client.files import Format, dump
from mockback.client.transfer import (
    FORMAT,
    VERSION,
    ImportReport,
    import_document,
    mocks_of,
    split_by_namespace,
)

EXPORT: dict[str, Any] = {
    "format": FORMAT,
    "version": VERSION,
    "namespaces": ["payments", "sandbox"],
    "mocks": [
        {"id": "a", "namespace": "sandbox", "http": {"route": "/a"}},
        {"id": "b", "namespace": "payments", "chainId": "checkout", "http": {"route": "/b"}},
        {"id": "c", "http": {"route": "/c"}, "deleted": True},
    ],
    "stores": {
        "global": {"sandbox": {"k": 1}, "payments": {"p": 2}},
        "chain": {"checkout": {"order": "o-1"}, "other": {"x": 0}},
    },
}


def test_split_by_namespace_gives_complete_documents() -> None:
    """Each namespace's document holds its mocks, its global store and its chains' stores."""
    parts = split_by_namespace(EXPORT)
    assert sorted(parts) == ["payments", "sandbox"]
    assert parts["payments"] == {
        "format": FORMAT,
        "version": VERSION,
        "namespaces": ["payments"],
        "mocks": [EXPORT["mocks"][1]],
        "stores": {"global": {"payments": {"p": 2}}, "chain": {"checkout": {"order": "o-1"}}},
    }
    assert [m["id"] for m in parts["sandbox"]["mocks"]] == ["a", "c"]
    assert parts["sandbox"]["stores"] == {"global": {"sandbox": {"k": 1}}}


@pytest.mark.parametrize(
    ("document", "ids"),
    [
        (EXPORT, ["a", "b", "c"]),  # an export
        ([{"id": "x"}, {"id": "y"}], ["x", "y"]),  # a list of mocks
        ({"id": "one", "http": {"route": "/"}}, ["one"]),  # a single mock
        (None, []),  # an empty file
    ],
)
def test_mocks_of_reads_every_file_form(document: Any, ids: list[str]) -> None:
    """An export, a list of mocks and a single mock are all accepted."""
    assert [m["id"] for m in mocks_of(document)] == ids


def test_dump_keeps_document_order() -> None:
    """JSON and YAML output keep the document's key order and end with a newline."""
    document = {"format": FORMAT, "version": 1, "mocks": []}
    assert dump(document, Format.JSON).splitlines()[1] == '  "format": "mockback-export",'
    assert dump(document, Format.YAML) == "format: mockback-export\nversion: 1\nmocks: []\n"


class FakeServer:
    """Answers the calls an import makes, and records them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.ids: set[str] = {"b"}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body: Any = orjson.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, body))
        if request.url.path == "/api/v1/mocks":
            overwritten = body["id"] in self.ids
            self.ids.add(body["id"])
            answer = {"overwritten": overwritten, "mock": body, "warnings": []}
            return httpx.Response(200, content=orjson.dumps(answer))
        if request.method == "DELETE":
            return httpx.Response(200, content=b'{"mock": {"id": "c", "deleted": true}}')
        return httpx.Response(200, content=orjson.dumps(body))


def test_import_saves_mocks_reapplies_deletion_and_sets_stores() -> None:
    """An import creates or overwrites each mock, deletes those exported as deleted, sets stores."""
    server = FakeServer()
    document = {**EXPORT, "changeWebhooks": []}
    with Client(transport=httpx.MockTransport(server)) as client:
        report = import_document(client, document)
    sent = [(m, p) for m, p, _ in server.calls]
    assert sent[:4] == [
        ("POST", "/api/v1/mocks"),
        ("POST", "/api/v1/mocks"),
        ("POST", "/api/v1/mocks"),
        ("DELETE", "/api/v1/mocks/c"),
    ]
    assert server.calls[2][2] == {"id": "c", "http": {"route": "/c"}}, "deleted is not sent"
    assert sorted(sent[4:]) == [
        ("POST", "/api/v1/stores/chain/checkout"),
        ("POST", "/api/v1/stores/chain/other"),
        ("POST", "/api/v1/stores/global"),
        ("POST", "/api/v1/stores/global"),
    ]
    assert report == ImportReport(
        created=["a", "c"],
        overwritten=["b"],
        deleted=["c"],
        written={"stores": 4},
        skipped=["changeWebhooks"],
    )


def test_import_refuses_a_newer_export() -> None:
    """An export of a later version is refused before anything is sent."""
    server = FakeServer()
    with (
        Client(transport=httpx.MockTransport(server)) as client,
        pytest.raises(ValueError, match="newer than this client reads"),
    ):
        import_document(client, {**EXPORT, "version": VERSION + 1})
    assert server.calls == []
