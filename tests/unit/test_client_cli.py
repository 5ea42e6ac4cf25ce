"""The client commands' pure parts: mocks built from options, tables, usage errors."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from click.testing import CliRunner

from mockback.cli import main
from mockback.cli.mocks import build, header_pairs, json_or_text
from mockback.cli.output import table
from mockback.cli.remote import DEFAULT_URL
from mockback.client import DEFAULT_URL as CLIENT_DEFAULT_URL

SEED_CLI = """mockarty-cli mock create --id payment-with-webhook \\
  --route /api/payments --method POST \\
  --status 200 \\
  --payload '{"id":"$.fake.UUID","status":"succeeded"}' \\
  --webhook-url http://my-app:3000/webhooks/stripe \\
  --webhook-trigger on_success \\
  --webhook-body '{"type":"payment_intent.succeeded","data":{"amount":2500,"currency":"usd"}}'"""


def _options(argv: list[str]) -> dict[str, Any]:
    """The options ``mock create`` receives for ``argv``, as click parses them."""
    command = main.commands["mock"].commands["create"]  # type: ignore[attr-defined]
    ctx = command.make_context("create", argv)
    params = dict(ctx.params)
    for name in ("file", "strict", "as_json"):
        params.pop(name)
    return params


def test_seed_cli_example_builds_the_seed_mock() -> None:
    """The seed's CLI example builds the same mock as its curl and Python examples."""
    # As a shell reads it: line continuations joined, quotes removed.
    argv = shlex.split(SEED_CLI.replace("\\\n", " "))
    assert argv[:3] == ["mockarty-cli", "mock", "create"]
    options = _options(argv[3:])
    assert build({}, options) == {
        "id": "payment-with-webhook",
        "http": {"route": "/api/payments", "httpMethod": "POST"},
        "response": {"statusCode": 200, "payload": {"id": "$.fake.UUID", "status": "succeeded"}},
        "webhooks": [
            {
                "url": "http://my-app:3000/webhooks/stripe",
                "body": {
                    "type": "payment_intent.succeeded",
                    "data": {"amount": 2500, "currency": "usd"},
                },
                "trigger": "on_success",
            }
        ],
    }


def test_options_change_a_base_mock() -> None:
    """Options override fields of a mock read from a file and append a callback."""
    base = {
        "id": "old",
        "http": {"route": "/a", "httpMethod": "GET"},
        "response": {"headers": {"A": "1"}},
        "webhooks": [{"url": "http://first"}],
    }
    argv = [
        "--id", "new", "--namespace", "ns", "--method", "put", "--header", "B: 2",
        "--tag", "x", "--tag", "y", "--chain-id", "c", "--priority", "3", "--delay", "5",
        "--webhook-url", "http://second", "--webhook-method", "patch",
        "--webhook-header", "X-K: v", "--webhook-delay", "1.5",
        "--webhook-retry-count", "2", "--webhook-retry-delay", "0.5",
    ]  # fmt: skip
    mock = build(base, _options(argv))
    assert mock["id"] == "new" and mock["namespace"] == "ns" and mock["chainId"] == "c"
    assert mock["tags"] == ["x", "y"] and mock["priority"] == 3
    assert mock["http"] == {"route": "/a", "httpMethod": "PUT"}
    assert mock["response"] == {"headers": {"A": "1", "B": "2"}, "delay": 5}
    assert mock["webhooks"] == [
        {"url": "http://first"},
        {
            "url": "http://second",
            "method": "PATCH",
            "headers": {"X-K": "v"},
            "delay": 1.5,
            "retryCount": 2,
            "retryDelay": 0.5,
        },
    ]
    assert base["id"] == "old", "the base mock is not changed in place"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),  # an object
        ("[1, 2]", [1, 2]),  # a list
        ("42", 42),  # a number
        ('"quoted"', "quoted"),  # a JSON string
        ("plain text", "plain text"),  # not JSON: the text itself
        ("null", None),  # JSON null
    ],
)
def test_payload_is_json_or_text(text: str, value: Any) -> None:
    """A payload option is parsed as JSON, and kept as text when it is not JSON."""
    assert json_or_text(text, "--payload") == value


@pytest.mark.parametrize("text", ['{"a": 1', "[1, 2", '  {"a": }'])
def test_broken_json_object_is_an_error(text: str) -> None:
    """Text that starts like an object or a list but is not JSON is refused, not sent as text."""
    with pytest.raises(SystemExit) as caught:
        json_or_text(text, "--payload")
    assert caught.value.code == 2


def test_header_pairs() -> None:
    """'Name: value' options become a dict; values may contain colons."""
    assert header_pairs(("A: 1", "Url: http://x:1"), "--header") == {"A": "1", "Url": "http://x:1"}
    with pytest.raises(SystemExit):
        header_pairs(("no colon",), "--header")


def test_table_aligns_columns_without_trailing_spaces() -> None:
    """Columns are padded to their widest cell; empty cells show a dash."""
    assert table(["ID", "N"], [["a", 1], ["long-id", None]]).splitlines() == [
        "ID       N",
        "a        1",
        "long-id  -",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mock", "create", "--status", "200"], "give --route (or --file)"),  # nothing to create
        (
            ["mock", "create", "--route", "/a", "--webhook-body", "{}"],
            "--webhook-body needs --webhook-url",
        ),  # a callback option without its URL
        (
            ["mock", "create", "--route", "/a", "--payload", "{broken"],
            "--payload: not valid JSON",
        ),  # broken JSON
        (
            ["mock", "create", "--route", "/a", "--header", "nocolon"],
            "expected 'Name: value'",
        ),  # malformed header
    ],
)
def test_usage_errors_exit_2_before_calling_the_server(argv: list[str], message: str) -> None:
    """Bad options are reported with exit status 2 without contacting any server."""
    result = CliRunner().invoke(main, ["--server", "http://127.0.0.1:1", *argv])
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_cli_and_client_default_to_the_same_server() -> None:
    """Without --server or MOCKBACK_URL both talk to the default address of mockback serve."""
    assert DEFAULT_URL == CLIENT_DEFAULT_URL == "http://127.0.0.1:5770"


def test_serve_keeps_its_options() -> None:
    """The global client options leave ``mockback serve`` and its flags as they were."""
    serve = main.commands["serve"]
    names = {p.name for p in serve.params}
    assert names == {
        "host",
        "port",
        "data_dir",
        "ephemeral",
        "db",
        "mocks",
        "log_format",
        "log_level",
        "strict",
        "faker_seed",
        "cpu_scheduling",
    }
