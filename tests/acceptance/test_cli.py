"""The client commands through click's CliRunner against a real server."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner, Result

from mockback.cli import main
from mockback.client import Client
from mockback.client.models import as_document
from mockback.testing import MockbackServer, ThreadedReceiver, checkpoint
from mockback.testing.server import ANNOUNCEMENT

SEED_CLI = """mockarty-cli mock create --id payment-with-webhook \\
  --route /api/payments --method POST \\
  --status 200 \\
  --payload '{"id":"$.fake.UUID","status":"succeeded"}' \\
  --webhook-url http://my-app:3000/webhooks/stripe \\
  --webhook-trigger on_success \\
  --webhook-body '{"type":"payment_intent.succeeded","data":{"amount":2500,"currency":"usd"}}'"""


@pytest.fixture(scope="module")
def server() -> Iterator[MockbackServer]:
    """One server for the module."""
    with MockbackServer() as running:
        yield running


@pytest.fixture
def client(server: MockbackServer) -> Iterator[Client]:
    """A client of the module's server, which is put back as it was after the test."""
    with server.client() as c:
        before = checkpoint.take(c)
        yield c
        checkpoint.roll_back(c, before)


def run(server: MockbackServer | str, *args: str, env: dict[str, str] | None = None) -> Result:
    """``mockback --server URL ARGS`` in a CliRunner."""
    url = server if isinstance(server, str) else server.url
    return CliRunner().invoke(main, ["--server", url, *args], env=env, catch_exceptions=False)


def ok(result: Result) -> str:
    """The standard output of a command that must have succeeded."""
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    return result.stdout


def test_seed_cli_example(server: MockbackServer, client: Client) -> None:
    """The seed's CLI example, as a shell passes it, creates the seed's payment mock."""
    argv = shlex.split(SEED_CLI.replace("\\\n", " "))
    out = ok(run(server, *argv[1:]))
    assert (
        out
        == "Created mock payment-with-webhook in sandbox: POST /api/payments -> 200, 1 callback\n"
    )
    mock = client.mocks.get("payment-with-webhook")
    assert mock["response"]["payload"] == {"id": "$.fake.UUID", "status": "succeeded"}
    assert mock["webhooks"][0]["trigger"] == "on_success"
    assert mock["webhooks"][0]["body"]["data"] == {"amount": 2500, "currency": "usd"}
    answer = httpx.post(f"{server.url}/api/payments", json={})
    assert answer.status_code == 200 and answer.json()["status"] == "succeeded"
    again = ok(run(server, *argv[1:], "--json"))
    assert json.loads(again)["overwritten"] is True


def test_server_from_the_environment(server: MockbackServer, client: Client) -> None:
    """MOCKBACK_URL names the server when --server is not given; --server wins over it."""
    client.mocks.create({"id": "env-mock", "http": {"route": "/env"}})
    by_env = CliRunner().invoke(main, ["mock", "get", "env-mock"], env={"MOCKBACK_URL": server.url})
    assert by_env.exit_code == 0 and "env-mock" in by_env.stdout
    dead = CliRunner().invoke(
        main,
        ["--server", "http://127.0.0.1:9", "mock", "get", "env-mock"],
        env={"MOCKBACK_URL": server.url},
    )
    assert dead.exit_code == 1
    assert "cannot reach Mockback at http://127.0.0.1:9" in dead.stderr


def test_mock_list_get_delete_restore(server: MockbackServer, client: Client) -> None:
    """Tables by default, JSON with --json; delete hides a mock and restore brings it back."""
    ok(run(server, "mock", "create", "--id", "cli-a", "--route", "/cli/a", "--tag", "cli"))
    ok(
        run(
            server, "mock", "create", "--id", "cli-b", "--namespace", "cli-ns",
            "--route", "/cli/b", "--method", "put", "--status", "201", "--tag", "cli",
        )
    )  # fmt: skip
    table = ok(run(server, "mock", "list", "--tag", "cli")).splitlines()
    assert table[0].split() == ["ID", "NAMESPACE", "ROUTE", "STATUS", "CALLBACKS", "TAGS"]
    assert table[1].split() == ["cli-a", "sandbox", "ANY", "/cli/a", "200", "0", "cli"]
    assert table[2].split() == ["cli-b", "cli-ns", "PUT", "/cli/b", "201", "0", "cli"]
    page = json.loads(ok(run(server, "mock", "list", "--namespace", "cli-ns", "--json")))
    assert page["total"] == 1 and page["items"][0]["id"] == "cli-b"
    shown = ok(run(server, "mock", "get", "cli-b"))
    assert "route      PUT /cli/b" in shown and "namespace  cli-ns" in shown
    assert (
        json.loads(ok(run(server, "mock", "get", "cli-b", "--json")))["response"]["statusCode"]
        == 201
    )

    assert ok(run(server, "mock", "delete", "cli-a")).startswith("Deleted mock cli-a")
    assert httpx.get(f"{server.url}/cli/a").status_code == 404
    assert "cli-a" not in ok(run(server, "mock", "list", "--tag", "cli"))
    deleted = ok(run(server, "mock", "list", "--tag", "cli", "--include-deleted"))
    assert deleted.splitlines()[1].split()[-1] == "yes"
    restored = json.loads(ok(run(server, "mock", "restore", "cli-a", "--json")))
    assert restored["deleted"] is False
    assert httpx.get(f"{server.url}/cli/a").status_code == 200


def test_mock_create_from_a_file(server: MockbackServer, client: Client, tmp_path: Path) -> None:
    """--file reads a JSON or YAML mock; options change it; a list creates every mock."""
    one = tmp_path / "mock.yaml"
    one.write_text("id: file-a\nhttp: {route: /file/a}\nresponse: {payload: from-file}\n")
    ok(run(server, "mock", "create", "--file", str(one), "--status", "203"))
    answer = httpx.get(f"{server.url}/file/a")
    assert (answer.status_code, answer.text) == (203, "from-file")
    many = tmp_path / "mocks.json"
    many.write_text(
        json.dumps(
            [{"id": "file-b", "http": {"route": "/b"}}, {"id": "file-c", "http": {"route": "/c"}}]
        )
    )
    out = ok(run(server, "mock", "create", "--file", str(many)))
    assert out.count("Created mock") == 2
    refused = run(server, "mock", "create", "--file", str(many), "--status", "200")
    assert refused.exit_code == 2 and "holds 2 mocks" in refused.stderr


@pytest.mark.parametrize(
    ("args", "message", "details"),
    [
        (
            ["mock", "get", "cli-absent"],
            'No mock with id "cli-absent". (HTTP 404)',
            ["id: does not exist"],
        ),
        (
            ["mock", "create", "--route", "/x", "--status", "200", "--method", "NOT A METHOD"],
            "(HTTP 400)",
            ["http.httpMethod:"],
        ),
        (["deliveries", "show", "dlv_absent"], "(HTTP 404)", ["id: does not exist"]),
        (["deliveries", "list", "--status", "sideways"], "(HTTP 400)", ["status: must be one of"]),
    ],
)
def test_errors_print_the_servers_message(
    server: MockbackServer, args: list[str], message: str, details: list[str]
) -> None:
    """A refused command prints the server's message and fields on stderr and exits 1."""
    result = run(server, *args)
    assert result.exit_code == 1 and result.stdout == ""
    first, *rest = result.stderr.splitlines()
    assert first.startswith("mockback: error: ") and message in first
    for expected, line in zip(details, rest, strict=False):
        assert line.strip().startswith(expected)


def test_deliveries_commands(server: MockbackServer, client: Client) -> None:
    """deliveries wait, list, show and redeliver report what happened to callbacks."""
    with ThreadedReceiver() as receiver:
        receiver.fail_first(1)
        ok(
            run(
                server, "mock", "create", "--id", "cli-hook", "--route", "/cli/hook",
                "--webhook-url", receiver.url("/in"), "--webhook-body", '{"n": "$.req.n"}',
                "--webhook-retry-count", "1", "--webhook-retry-delay", "0.05",
            )
        )  # fmt: skip
        httpx.post(f"{server.url}/cli/hook", json={"n": 5})
        waited = ok(run(server, "deliveries", "wait", "--mock-id", "cli-hook", "--timeout", "10"))
        row = waited.splitlines()[1].split()
        delivery_id = row[0]
        assert row[1:5] == ["succeeded", "http", "cli-hook", "2"]
        listed = json.loads(
            ok(run(server, "deliveries", "list", "--mock-id", "cli-hook", "--json"))
        )
        assert [d["id"] for d in listed["items"]] == [delivery_id]
        shown = ok(run(server, "deliveries", "show", delivery_id))
        assert "status     succeeded" in shown
        assert [line.split()[6] for line in shown.splitlines() if line[:2] in ("1 ", "2 ")] == [
            "500",
            "200",
        ]
        assert '{"n":5}' in shown
        detail = json.loads(ok(run(server, "deliveries", "show", delivery_id, "--json")))
        assert [a["statusCode"] for a in detail["attempts"]] == [500, 200]
        again = ok(run(server, "deliveries", "redeliver", delivery_id))
        assert again == f"Delivery {delivery_id} is pending again.\n"
        receiver.wait_for(3, timeout=10)
        late = run(
            server,
            "deliveries",
            "wait",
            "--mock-id",
            "cli-hook",
            "--count",
            "5",
            "--timeout",
            "0.2",
        )
        assert late.exit_code == 1 and "Only 1 of 5 deliveries" in late.stderr


def _documents(client: Client, namespaces: list[str]) -> list[dict[str, Any]]:
    found = [as_document(m) for ns in namespaces for m in client.mocks.iter(namespace=ns)]
    return sorted(found, key=lambda m: str(m["id"]))


HOOK = {
    "id": "t-audit",
    "operation": "mock.create",
    "url": "https://hooks.example.com/audit",
    "enabled": False,
    "body": {"who": "$.event.actor"},
}
SIGNED = {
    "id": "t-signed",
    "operation": "*",
    "url": "https://hooks.example.com/signed",
    "enabled": False,
    "signing": {"scheme": "standard-webhooks", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
}
ADMIN_HOOK = {
    "id": "t-admin",
    "operation": "namespace.create",
    "url": "https://hooks.example.com/admin",
    "enabled": False,
}


def _seed_transfer(client: Client) -> None:
    client.namespaces.create("t-ns", description="Team namespace")
    client.namespaces.create("t-other", description="Another one")
    client.mocks.create(
        {
            "id": "t-1",
            "namespace": "t-ns",
            "http": {"route": "/t/1"},
            "response": {"payload": {"a": 1}},
        }
    )
    client.mocks.create(
        {"id": "t-2", "namespace": "t-other", "chainId": "t-chain", "http": {"route": "/t/:id"},
         "webhooks": [{"url": "http://127.0.0.1:9/hook", "trigger": "on_error"}]}
    )  # fmt: skip
    client.stores.global_("t-ns").set(k="v")
    client.stores.chain("t-chain").set(step=1)
    client.webhooks.namespace("t-ns").save(HOOK)
    client.webhooks.namespace("t-ns").save(SIGNED)
    client.webhooks.admin().save(ADMIN_HOOK)


def _unseed_transfer(client: Client) -> None:
    for ns in ("t-ns", "t-other"):
        client.namespaces.delete(ns)
    client.webhooks.admin().delete("t-admin")


def _hooks(client: Client, namespace: str | None) -> list[dict[str, Any]]:
    where = client.webhooks.admin() if namespace is None else client.webhooks.namespace(namespace)
    return [
        {k: v for k, v in w.items() if k not in ("createdAt", "updatedAt")} for w in where.list()
    ]


def _described(client: Client) -> dict[str, str]:
    return {
        n["name"]: n["description"]
        for n in client.namespaces.list()
        if n["name"] in ("t-ns", "t-other")
    }


@pytest.mark.parametrize(
    ("output", "fmt", "everything"),
    [
        (None, None, False),  # JSON on stdout, two namespaces named
        ("export.yaml", None, True),  # YAML by the file name, the whole server
        ("export.txt", "yaml", False),  # YAML by --format, two namespaces named
        ("folder/", None, True),  # one JSON file per namespace, and one for admin webhooks
    ],
)
def test_export_then_import_into_an_empty_server(
    server: MockbackServer,
    client: Client,
    tmp_path: Path,
    output: str | None,
    fmt: str | None,
    everything: bool,
) -> None:
    """An export imported into an empty server reproduces namespaces, mocks, stores, webhooks."""
    _seed_transfer(client)
    try:
        _export_then_import(server, client, tmp_path, output, fmt, everything)
    finally:
        _unseed_transfer(client)


def _export_then_import(
    server: MockbackServer,
    client: Client,
    tmp_path: Path,
    output: str | None,
    fmt: str | None,
    everything: bool,
) -> None:
    args = ["export"] if everything else ["export", "-n", "t-ns", "-n", "t-other"]
    if output is not None:
        args += ["-o", f"{tmp_path}/{output}"]
    if fmt is not None:
        args += ["--format", fmt]
    out = ok(run(server, *args))
    if output is None:
        source = tmp_path / "stdout.json"
        source.write_text(out)
    else:
        source = tmp_path / output
        assert out == ""
    if output == "folder/":
        names = {p.name for p in source.iterdir()}
        assert {"t-ns.json", "t-other.json", "@admin.json"} <= names
    elif output is not None:
        exported = yaml.safe_load(source.read_text())
        assert exported["format"] == "mockback-export"
        signed = exported["changeWebhooks"]["namespace"]["t-ns"][1]
        assert signed["signing"]["secret"] == "********", "secrets stay masked"
    with MockbackServer() as empty, empty.client() as target:
        first = run(empty, "import", str(source))
        assert ok(first).startswith("Imported 2 mocks (2 created, 0 overwritten), 2 store values")
        assert 'namespace t-ns webhook "t-signed" was not imported' in first.stderr
        second = json.loads(ok(run(empty, "import", str(source), "--json")))
        assert sorted(second["overwritten"]) == ["t-1", "t-2"]
        assert second["created"] == [] and second["namespaces"] == []
        assert _described(target) == _described(client)
        assert _documents(target, ["t-ns", "t-other"]) == _documents(client, ["t-ns", "t-other"])
        assert target.stores.global_("t-ns").get() == {"k": "v"}
        assert target.stores.chain("t-chain").get() == {"step": 1}
        assert httpx.get(f"{empty.url}/stubs/t-ns/t/1").json() == {"a": 1}
        source_hooks = [h for h in _hooks(client, "t-ns") if h["id"] != "t-signed"]
        assert _hooks(target, "t-ns") == source_hooks
        admin = [h for h in _hooks(client, None) if h["id"] == "t-admin"] if everything else []
        assert [h for h in _hooks(target, None) if h["id"] == "t-admin"] == admin


def test_import_stops_at_a_refused_mock(
    server: MockbackServer, client: Client, tmp_path: Path
) -> None:
    """An invalid mock stops the import with the file, the mock and the server's problem."""
    source = tmp_path / "bad.json"
    source.write_text(
        json.dumps(
            {"mocks": [{"id": "imp-ok", "http": {"route": "/imp"}}, {"id": "imp-bad", "http": {}}]}
        )
    )
    result = run(server, "import", str(source))
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert (
        f'{source}: mock 1 (id "imp-bad"):' in first and "1 mock(s) were saved before it" in first
    )
    assert "http.route" in result.stderr
    assert client.mocks.get("imp-ok")["deleted"] is False
    missing = run(server, "import", str(tmp_path / "absent.json"))
    assert missing.exit_code == 2 and "no such file or directory" in missing.stderr


def test_serve_still_starts_with_global_options(tmp_path: Path) -> None:
    """``mockback --server URL serve`` starts the server as ``mockback serve`` does."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockback",
            "--server",
            "http://127.0.0.1:9",
            "serve",
            "--port",
            "0",
            "--ephemeral",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(ANNOUNCEMENT)
        url = line[len(ANNOUNCEMENT) :].strip()
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
        if proc.stdout is not None:
            proc.stdout.close()
