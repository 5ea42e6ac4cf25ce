"""Export documents: splitting per namespace, reading mocks, namespaces, webhooks, imports."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from mockback.client import Client
from mockback.client.files import Format, dump
from mockback.client.transfer import (
    ADMIN_PART,
    FORMAT,
    MASK,
    VERSION,
    ImportReport,
    Scope,
    WebhooksSection,
    export_document,
    import_document,
    mocks_of,
    split_by_namespace,
)

EXPORT: dict[str, Any] = {
    "format": FORMAT,
    "version": VERSION,
    "namespaces": [{"name": "payments", "description": "Pay"}, "sandbox"],
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
        "namespaces": [{"name": "payments", "description": "Pay"}],
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
        if request.url.path == "/api/v1/namespaces" and request.method == "GET":
            return httpx.Response(200, content=b'{"items": [{"name": "sandbox"}], "total": 1}')
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
    document = {**EXPORT, "laterThings": []}
    with Client(transport=httpx.MockTransport(server)) as client:
        report = import_document(client, document)
    sent = [(m, p) for m, p, _ in server.calls]
    assert sent[:2] == [("GET", "/api/v1/namespaces"), ("POST", "/api/v1/namespaces")]
    assert server.calls[1][2] == {"name": "payments", "description": "Pay"}
    sent = sent[2:]
    assert sent[:4] == [
        ("POST", "/api/v1/mocks"),
        ("POST", "/api/v1/mocks"),
        ("POST", "/api/v1/mocks"),
        ("DELETE", "/api/v1/mocks/c"),
    ]
    assert server.calls[4][2] == {"id": "c", "http": {"route": "/c"}}, "deleted is not sent"
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
        namespaces=["payments"],
        skipped=["laterThings"],
        step='"stores"',
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


HOOK = {"id": "audit", "operation": "mock.create", "url": "https://hooks.example.com/a"}
SIGNED = {**HOOK, "id": "signed", "signing": {"scheme": "standard-webhooks", "secret": MASK}}


class Server:
    """An admin API in memory: namespaces and change webhooks, recording every call."""

    def __init__(
        self,
        namespaces: dict[str, str],
        hooks: dict[str, list[dict[str, Any]]],
        *,
        admin: bool = True,
    ) -> None:
        self.namespaces = namespaces  # name -> description
        self.hooks = hooks  # namespace (or "@admin") -> webhooks as the server shows them
        self.admin = admin  # whether the caller may read admin webhooks
        self.calls: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body: Any = orjson.loads(request.content) if request.content else None
        path = request.url.path
        self.calls.append((request.method, path, body))
        if path == "/api/v1/mocks" and request.method == "GET":
            return self._json({"items": [], "total": 0, "offset": 0, "limit": 1000})
        if path == "/api/v1/namespaces":
            if request.method == "POST":
                self.namespaces[body["name"]] = body.get("description", "")
                return self._json(body, 201)
            items = [{"name": n, "description": d} for n, d in sorted(self.namespaces.items())]
            return self._json({"items": items, "total": len(items)})
        if path.startswith("/api/v1/namespaces/") and request.method == "PATCH":
            self.namespaces[path.rsplit("/", 1)[1]] = body["description"]
            return self._json(body)
        if path.endswith("/webhooks"):
            owner = "@admin" if path == "/api/v1/admin/webhooks" else path.split("/")[4]
            if owner == "@admin" and not self.admin:
                return self._json({"error": "Admins only.", "details": []}, 403)
            if owner != "@admin" and owner not in self.namespaces:
                return self._json({"error": "No such namespace.", "details": []}, 404)
            if request.method == "POST":
                return self._json(body)
            items = self.hooks.get(owner, [])
            return self._json({"items": items, "total": len(items)})
        return self._json({})

    @staticmethod
    def _json(value: Any, status: int = 200) -> httpx.Response:
        return httpx.Response(status, content=orjson.dumps(value))

    def saved(self) -> list[tuple[str, str]]:
        """(path, webhook id) of every webhook POSTed."""
        return [(p, b["id"]) for m, p, b in self.calls if m == "POST" and p.endswith("/webhooks")]


def test_export_lists_namespaces_with_descriptions_and_webhooks() -> None:
    """An export of everything names the server's namespaces and carries both kinds of webhook."""
    shown = {**HOOK, "namespace": "team", "createdAt": "t", "updatedAt": "t"}
    server = Server({"sandbox": "", "team": "The team"}, {"team": [shown], "@admin": [SIGNED]})
    with Client(transport=httpx.MockTransport(server)) as client:
        document = export_document(client)
    assert document["namespaces"] == [
        {"name": "sandbox", "description": ""},
        {"name": "team", "description": "The team"},
    ]
    assert document["changeWebhooks"] == {"namespace": {"team": [HOOK]}, "admin": [SIGNED]}


@pytest.mark.parametrize(
    ("scope", "admin", "expected"),
    [
        # named namespaces: no admin webhooks, an unknown namespace is left out
        (Scope(namespaces=("absent", "team"), chain_ids=()), True, {"namespace": {"team": [HOOK]}}),
        # everything, by an admin
        (
            Scope(namespaces=("team",), chain_ids=(), server_wide=True),
            True,
            {"namespace": {"team": [HOOK]}, "admin": [HOOK]},
        ),
        # everything, by a user who may not read admin webhooks
        (
            Scope(namespaces=("team",), chain_ids=(), server_wide=True),
            False,
            {"namespace": {"team": [HOOK]}},
        ),
    ],
)
def test_webhooks_collected_per_scope(scope: Scope, admin: bool, expected: Any) -> None:
    """Admin webhooks come with server-wide exports only, and only when the caller may read them."""
    server = Server({"team": ""}, {"team": [HOOK], "@admin": [HOOK]}, admin=admin)
    with Client(transport=httpx.MockTransport(server)) as client:
        assert WebhooksSection().collect(client, scope) == expected


def test_import_skips_a_masked_webhook_the_target_lacks() -> None:
    """A masked webhook is saved where its id exists and skipped, with a warning, where not."""
    server = Server({"team": ""}, {"team": [SIGNED]})
    value = {
        "namespace": {"team": [HOOK, SIGNED]},
        "admin": [SIGNED, {**HOOK, "operation": "user.create"}],
    }
    warnings: list[str] = []
    with Client(transport=httpx.MockTransport(server)) as client:
        written = WebhooksSection().apply(client, value, warnings.append)
    assert server.saved() == [
        ("/api/v1/namespaces/team/webhooks", "audit"),
        ("/api/v1/namespaces/team/webhooks", "signed"),
        ("/api/v1/admin/webhooks", "audit"),
    ]
    assert written == 3
    assert len(warnings) == 1
    assert 'admin webhook "signed" was not imported' in warnings[0] and MASK in warnings[0]


def test_import_creates_or_describes_namespaces_before_mocks() -> None:
    """Missing namespaces are created, changed descriptions set, equal ones left alone."""
    server = Server({"sandbox": "", "team": "old"}, {})
    document = {
        "format": "mockback-export",
        "version": 1,
        "namespaces": ["sandbox", {"name": "team", "description": "new"}, {"name": "ops"}],
        "mocks": [],
    }
    with Client(transport=httpx.MockTransport(server)) as client:
        report = import_document(client, document)
    assert report.namespaces == ["team", "ops"]
    assert server.namespaces == {"sandbox": "", "team": "new", "ops": ""}
    assert [(m, p) for m, p, _ in server.calls if m != "GET"] == [
        ("PATCH", "/api/v1/namespaces/team"),
        ("POST", "/api/v1/namespaces"),
    ]
    assert report == ImportReport(namespaces=["team", "ops"], step='"namespaces"')


def test_split_puts_admin_webhooks_in_their_own_part() -> None:
    """A folder export keeps each namespace's webhooks with it and admin webhooks apart."""
    document = {
        "format": "mockback-export",
        "version": 1,
        "namespaces": [{"name": "team", "description": "T"}, {"name": "ops"}],
        "mocks": [],
        "changeWebhooks": {"namespace": {"team": [HOOK]}, "admin": [SIGNED]},
    }
    parts = split_by_namespace(document)
    assert sorted(parts) == [ADMIN_PART, "ops", "team"]
    assert parts["team"]["namespaces"] == [{"name": "team", "description": "T"}]
    assert parts["team"]["changeWebhooks"] == {"namespace": {"team": [HOOK]}}
    assert "changeWebhooks" not in parts["ops"]
    assert parts[ADMIN_PART]["changeWebhooks"] == {"admin": [SIGNED]}
    assert parts[ADMIN_PART]["namespaces"] == [] and parts[ADMIN_PART]["mocks"] == []
