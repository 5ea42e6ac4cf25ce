"""``mockback mock create|list|get|delete|restore``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from mockback.cli.output import (
    compact,
    echo_json,
    fields,
    mock_route,
    page_footer,
    table,
    when,
)
from mockback.cli.remote import BAD_INPUT, connect, fail, warn

if TYPE_CHECKING:
    from mockback.client import SavedMock


def json_or_text(value: str, option: str) -> Any:
    """The option's JSON value, or its text when it is not JSON.

    Text starting with ``{`` or ``[`` must be JSON: a broken object is a mistake, not text.
    """
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        if value.lstrip().startswith(("{", "[")):
            fail(f"{option}: not valid JSON: {exc}", status=BAD_INPUT)
        return value


def header_pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``("Name: value", ...)`` as a dict."""
    out: dict[str, str] = {}
    for raw in values:
        name, sep, value = raw.partition(":")
        if not sep or not name.strip():
            fail(f"{option} {raw!r}: expected 'Name: value'", status=BAD_INPUT)
        out[name.strip()] = value.strip()
    return out


@click.group("mock")
def mock_group() -> None:
    """Create, list, show, delete and restore mocks on a running server."""


WEBHOOK_ONLY = (
    "webhook_method",
    "webhook_trigger",
    "webhook_body",
    "webhook_header",
    "webhook_delay",
    "webhook_retry_count",
    "webhook_retry_delay",
)


@mock_group.command("create")
@click.option("--id", "mock_id", help="Mock id (create-or-overwrite key; generated if absent).")
@click.option("--namespace", help="Namespace (default sandbox).")
@click.option("--route", help="Route, e.g. /api/payments/:id (required without --file).")
@click.option("--method", help="HTTP method (default: any).")
@click.option("--status", type=click.IntRange(100, 599), help="Response status (default 200).")
@click.option("--payload", help="Response payload: JSON, or plain text.")
@click.option("--header", multiple=True, help="Response header 'Name: value' (repeatable).")
@click.option("--delay", type=click.IntRange(0), help="Milliseconds before answering.")
@click.option("--tag", "tags", multiple=True, help="Tag (repeatable).")
@click.option("--chain-id", help="Chain the mock belongs to ($.cS).")
@click.option("--priority", type=int, help="Higher wins among matching mocks.")
@click.option("--webhook-url", help="Add an HTTP callback to this URL.")
@click.option("--webhook-method", help="Callback method (default POST).")
@click.option(
    "--webhook-trigger",
    type=click.Choice(["on_success", "on_error", "always"]),
    help="When the callback fires (default always).",
)
@click.option("--webhook-body", help="Callback body: JSON, or plain text.")
@click.option("--webhook-header", multiple=True, help="Callback header 'Name: value'.")
@click.option("--webhook-delay", type=click.FloatRange(0), help="Seconds before the callback.")
@click.option("--webhook-retry-count", type=click.IntRange(0), help="Extra attempts on failure.")
@click.option("--webhook-retry-delay", type=click.FloatRange(0), help="Seconds between attempts.")
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON/YAML file of one mock, a list, or an export; the options above change its one mock.",
)
@click.option("--strict", is_flag=True, default=None, help="Reject unknown fields.")
@click.option("--json", "as_json", is_flag=True, help="Print the server's answer as JSON.")
@click.pass_context
def create(
    ctx: click.Context, /, file: Path | None, strict: bool | None, as_json: bool, **opts: Any
) -> None:
    """Create a mock, or overwrite the mock with the same id."""
    documents = _documents(file, opts)
    answers: list[SavedMock] = []
    with connect(ctx) as client:
        for document in documents:
            answers.append(client.mocks.create(document, strict=strict))
    if as_json:
        shapes = [_answer_json(a) for a in answers]
        echo_json(shapes[0] if len(shapes) == 1 else shapes)
        return
    for answer in answers:
        verb = "Overwrote" if answer.overwritten else "Created"
        mock = answer.mock
        hooks = len(mock.get("webhooks") or [])
        status = (mock.get("response") or {}).get("statusCode", 200)
        click.echo(
            f"{verb} mock {answer.id} in {mock.get('namespace', 'sandbox')}: "
            f"{mock_route(mock)} -> {status}, {hooks} callback{'s' if hooks != 1 else ''}"
        )
        for warning in answer.warnings:
            warn(f"{answer.id}: {warning}")


def _answer_json(answer: SavedMock) -> dict[str, Any]:
    return {"overwritten": answer.overwritten, "mock": answer.mock, "warnings": [*answer.warnings]}


def _documents(file: Path | None, opts: dict[str, Any]) -> list[dict[str, Any]]:
    given = {k for k, v in opts.items() if v not in (None, ())}
    if file is not None:
        from mockback.client.files import DocumentError, read
        from mockback.client.transfer import mocks_of

        try:
            found = mocks_of(read(file))
        except DocumentError as exc:
            fail(str(exc), status=BAD_INPUT)
        if not all(isinstance(m, Mapping) for m in found):
            fail(f"{file}: every mock must be an object", status=BAD_INPUT)
        if given and len(found) != 1:
            fail(
                f"--file {file} holds {len(found)} mocks; options change only one", status=BAD_INPUT
            )
        documents = [dict(m) for m in found]
        if not documents:
            fail(f"--file {file} holds no mock", status=BAD_INPUT)
    else:
        if not opts.get("route"):
            fail("give --route (or --file)", status=BAD_INPUT)
        documents = [{}]
    if given:
        documents[0] = build(documents[0], opts)
    return documents


def build(base: Mapping[str, Any], opts: Mapping[str, Any]) -> dict[str, Any]:
    """The mock ``base`` with the command-line options applied."""
    mock = dict(base)
    for key, option in (("id", "mock_id"), ("namespace", "namespace"), ("chainId", "chain_id")):
        if opts.get(option) is not None:
            mock[key] = opts[option]
    if opts.get("priority") is not None:
        mock["priority"] = opts["priority"]
    if opts.get("tags"):
        mock["tags"] = list(opts["tags"])
    http = dict(mock.get("http") or {})
    if opts.get("route") is not None:
        http["route"] = opts["route"]
    if opts.get("method") is not None:
        http["httpMethod"] = opts["method"].upper()
    mock["http"] = http
    response = dict(mock.get("response") or {})
    if opts.get("status") is not None:
        response["statusCode"] = opts["status"]
    if opts.get("payload") is not None:
        response["payload"] = json_or_text(opts["payload"], "--payload")
    if opts.get("header"):
        response["headers"] = {
            **(response.get("headers") or {}),
            **header_pairs(opts["header"], "--header"),
        }
    if opts.get("delay") is not None:
        response["delay"] = opts["delay"]
    if response:
        mock["response"] = response
    webhook = _webhook(opts)
    if webhook is not None:
        mock["webhooks"] = [*(mock.get("webhooks") or []), webhook]
    return mock


def _webhook(opts: Mapping[str, Any]) -> dict[str, Any] | None:
    if opts.get("webhook_url") is None:
        stray = [name for name in WEBHOOK_ONLY if opts.get(name) not in (None, ())]
        if stray:
            flag = "--" + stray[0].replace("_", "-")
            fail(f"{flag} needs --webhook-url", status=BAD_INPUT)
        return None
    webhook: dict[str, Any] = {"url": opts["webhook_url"]}
    if opts.get("webhook_method") is not None:
        webhook["method"] = opts["webhook_method"].upper()
    if opts.get("webhook_header"):
        webhook["headers"] = header_pairs(opts["webhook_header"], "--webhook-header")
    if opts.get("webhook_body") is not None:
        webhook["body"] = json_or_text(opts["webhook_body"], "--webhook-body")
    for key, option in (
        ("trigger", "webhook_trigger"),
        ("delay", "webhook_delay"),
        ("retryCount", "webhook_retry_count"),
        ("retryDelay", "webhook_retry_delay"),
    ):
        if opts.get(option) is not None:
            webhook[key] = opts[option]
    return webhook


@mock_group.command("list")
@click.option("--namespace", help="Only this namespace.")
@click.option("--tag", "tags", multiple=True, help="Only mocks with this tag (repeatable: all).")
@click.option("--search", help="Part of the id or the route.")
@click.option("--include-deleted", is_flag=True, help="Show deleted mocks too.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@click.pass_context
def list_(
    ctx: click.Context,
    namespace: str | None,
    tags: tuple[str, ...],
    search: str | None,
    include_deleted: bool,
    offset: int,
    limit: int,
    as_json: bool,
) -> None:
    """List mocks in creation order."""
    with connect(ctx) as client:
        page = client.mocks.list(
            namespace=namespace,
            tags=tags or None,
            search=search,
            include_deleted=include_deleted,
            offset=offset,
            limit=limit,
        )
    if as_json:
        echo_json(
            {
                "items": list(page.items),
                "total": page.total,
                "offset": page.offset,
                "limit": page.limit,
            }
        )
        return
    if not page.items:
        click.echo("No mocks.")
    else:
        headers = ["ID", "NAMESPACE", "ROUTE", "STATUS", "CALLBACKS", "TAGS"]
        rows = [
            [
                m.get("id"),
                m.get("namespace"),
                mock_route(m),
                (m.get("response") or {}).get("statusCode", 200),
                len(m.get("webhooks") or []),
                ",".join(m.get("tags") or []),
            ]
            + ([m.get("deleted")] if include_deleted else [])
            for m in page.items
        ]
        click.echo(table(headers + (["DELETED"] if include_deleted else []), rows))
    page_footer(len(page.items), page.offset, page.total, "mocks")


@mock_group.command("get")
@click.argument("mock_id")
@click.option("--json", "as_json", is_flag=True, help="Print the mock as JSON.")
@click.pass_context
def get(ctx: click.Context, mock_id: str, as_json: bool) -> None:
    """Show one mock (deleted ones too)."""
    with connect(ctx) as client:
        mock = client.mocks.get(mock_id)
    if as_json:
        echo_json(mock)
        return
    click.echo(describe(mock))


def describe(mock: Mapping[str, Any]) -> str:
    """A mock as name/value lines and a callback table."""
    response = mock.get("response") or {}
    text = fields(
        [
            ("id", mock.get("id")),
            ("namespace", mock.get("namespace")),
            ("route", mock_route(mock)),
            ("status", response.get("statusCode", 200)),
            ("payload", compact(response["payload"]) if "payload" in response else None),
            ("chain", mock.get("chainId")),
            ("tags", ", ".join(mock.get("tags") or [])),
            ("priority", mock.get("priority", 0)),
            ("deleted", bool(mock.get("deleted"))),
            ("created", when(mock.get("createdAt"))),
            ("updated", when(mock.get("updatedAt"))),
        ]
    )
    hooks = mock.get("webhooks") or []
    if hooks:
        rows = [
            [
                i,
                h.get("type", "http"),
                h.get("trigger", "always"),
                h.get("url") or h.get("kafkaTopic") or h.get("rabbitQueue") or "",
            ]
            for i, h in enumerate(hooks)
        ]
        text += "\n\n" + table(["#", "TYPE", "TRIGGER", "TARGET"], rows)
    return text


@mock_group.command("delete")
@click.argument("mock_id")
@click.option("--json", "as_json", is_flag=True, help="Print the mock as JSON.")
@click.pass_context
def delete(ctx: click.Context, mock_id: str, as_json: bool) -> None:
    """Soft-delete a mock: it stops matching until restored."""
    with connect(ctx) as client:
        mock = client.mocks.delete(mock_id)
    if as_json:
        echo_json(mock)
        return
    click.echo(f"Deleted mock {mock_id} (undo: mockback mock restore {mock_id})")


@mock_group.command("restore")
@click.argument("mock_id")
@click.option("--json", "as_json", is_flag=True, help="Print the mock as JSON.")
@click.pass_context
def restore(ctx: click.Context, mock_id: str, as_json: bool) -> None:
    """Bring a deleted mock back."""
    with connect(ctx) as client:
        mock = client.mocks.restore(mock_id)
    if as_json:
        echo_json(mock)
        return
    click.echo(f"Restored mock {mock_id}: {mock_route(mock)}")
