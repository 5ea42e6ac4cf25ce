"""``mockback deliveries list|show|redeliver|wait``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import click

from mockback.cli.output import echo_json, fields, page_footer, table, when
from mockback.cli.remote import connect, fail

if TYPE_CHECKING:
    from mockback.client import Delivery


def _statuses(values: tuple[str, ...]) -> list[str] | None:
    out = [s.strip() for v in values for s in v.split(",") if s.strip()]
    return out or None


def delivery_table(deliveries: Iterable[Delivery]) -> str:
    """One delivery a line."""
    rows = [
        [d.id, d.status, d.type, d.mock_id, d.attempt_count, d.target, when(d.created_at)]
        for d in deliveries
    ]
    return table(["ID", "STATUS", "TYPE", "MOCK", "ATTEMPTS", "TARGET", "CREATED"], rows)


def describe(d: Delivery) -> str:
    """A delivery as name/value lines, its attempts, and what was sent."""
    text = fields(
        [
            ("id", d.id),
            ("status", d.status),
            ("error", d.error),
            ("type", d.type),
            ("target", d.target),
            ("mock", d.mock_id),
            ("namespace", d.namespace),
            ("request", d.request_id),
            ("callback", d.callback_id if d.callback_id else f"#{d.callback_index}"),
            ("created", d.created_at),
            ("due", d.due_at),
            ("finished", d.finished_at),
            ("attempts", d.attempt_count),
        ]
    )
    if d.attempts:
        rows = [
            [
                a.number,
                when(a.started_at),
                f"{a.duration_ms:.1f} ms",
                a.outcome,
                a.status_code,
                a.error,
            ]
            for a in d.attempts
        ]
        text += "\n\n" + table(["#", "STARTED", "DURATION", "OUTCOME", "STATUS", "ERROR"], rows)
    if d.request is not None:
        sent = [f"{d.request.method} {d.request.url}"]
        sent += [f"{name}: {value}" for name, value in d.request.headers.items()]
        if d.request.body:
            sent += ["", d.request.body]
        text += "\n\n" + "\n".join(sent)
    return text


@click.group("deliveries")
def deliveries_group() -> None:
    """Deliveries: every firing of a callback, with its attempts."""


@deliveries_group.command("list")
@click.option("--mock-id", help="Only deliveries of this mock.")
@click.option("--namespace", help="Only this namespace.")
@click.option(
    "--status", multiple=True, help="Only these statuses (repeatable or comma-separated)."
)
@click.option("--request-id", help="Only deliveries fired by this served request.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@click.pass_context
def list_(
    ctx: click.Context,
    mock_id: str | None,
    namespace: str | None,
    status: tuple[str, ...],
    request_id: str | None,
    offset: int,
    limit: int,
    as_json: bool,
) -> None:
    """List deliveries, newest first."""
    with connect(ctx) as client:
        page = client.deliveries.list(
            mock_id=mock_id,
            namespace=namespace,
            status=_statuses(status),
            request_id=request_id,
            offset=offset,
            limit=limit,
        )
    if as_json:
        echo_json(
            {
                "items": [dict(d.raw) for d in page.items],
                "total": page.total,
                "offset": page.offset,
                "limit": page.limit,
            }
        )
        return
    click.echo(delivery_table(page.items) if page.items else "No deliveries.")
    page_footer(len(page.items), page.offset, page.total, "deliveries")


@deliveries_group.command("show")
@click.argument("delivery_id")
@click.option("--json", "as_json", is_flag=True, help="Print the delivery as JSON.")
@click.pass_context
def show(ctx: click.Context, delivery_id: str, as_json: bool) -> None:
    """Show a delivery with its attempts and the request sent."""
    with connect(ctx) as client:
        delivery = client.deliveries.get(delivery_id)
    if as_json:
        echo_json(dict(delivery.raw))
        return
    click.echo(describe(delivery))


@deliveries_group.command("redeliver")
@click.argument("delivery_id")
@click.option("--json", "as_json", is_flag=True, help="Print the delivery as JSON.")
@click.pass_context
def redeliver(ctx: click.Context, delivery_id: str, as_json: bool) -> None:
    """Send a delivery again now (same id)."""
    with connect(ctx) as client:
        delivery = client.deliveries.redeliver(delivery_id)
    if as_json:
        echo_json(dict(delivery.raw))
        return
    click.echo(f"Delivery {delivery.id} is {delivery.status} again.")


@deliveries_group.command("wait")
@click.option("--count", type=click.IntRange(1), default=1, show_default=True)
@click.option("--timeout", type=click.FloatRange(0, 600), default=10.0, show_default=True)
@click.option("--mock-id", help="Only deliveries of this mock.")
@click.option("--namespace", help="Only this namespace.")
@click.option("--status", multiple=True, help="Only these final statuses (default: any).")
@click.option("--json", "as_json", is_flag=True, help='Print {"items": [...]} as JSON.')
@click.pass_context
def wait(
    ctx: click.Context,
    count: int,
    timeout: float,
    mock_id: str | None,
    namespace: str | None,
    status: tuple[str, ...],
    as_json: bool,
) -> None:
    """Wait until COUNT matching deliveries have ended; exit 1 if they do not in time."""
    from mockback.client import WaitTimedOut

    with connect(ctx) as client:
        try:
            ended = client.deliveries.wait(
                count, timeout, mock_id=mock_id, namespace=namespace, status=_statuses(status)
            )
            late: WaitTimedOut | None = None
        except WaitTimedOut as exc:
            ended, late = exc.deliveries, exc
    if as_json:
        echo_json({"items": [dict(d.raw) for d in ended]})
    elif ended:
        click.echo(delivery_table(ended))
    if late is not None:
        fail(late.message)
