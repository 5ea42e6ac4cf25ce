"""``mockback export`` and ``mockback import``: namespaces, mocks, stores and change webhooks."""

from __future__ import annotations

from pathlib import Path

import click

from mockback.cli.output import echo_json
from mockback.cli.remote import BAD_INPUT, connect, fail, warn


def _is_folder(path: str) -> bool:
    # The raw text, not a Path: a Path drops the trailing slash that says "folder".
    return Path(path).is_dir() or path.endswith(("/", "\\"))


@click.command("export")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Export this namespace (repeatable; default: all).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Write to this file, or one file per namespace into this folder (default: stdout).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "yaml"]),
    help="Output format (default: from the file name, else json).",
)
@click.option("--include-deleted", is_flag=True, help="Export deleted mocks too (marked deleted).")
@click.pass_context
def export(
    ctx: click.Context,
    namespaces: tuple[str, ...],
    output: str | None,
    fmt: str | None,
    include_deleted: bool,
) -> None:
    """Export namespaces, mocks, stores and change webhooks of one or all namespaces."""
    from mockback.client import files
    from mockback.client.transfer import export_document, split_by_namespace

    with connect(ctx) as client:
        document = export_document(
            client, namespaces=namespaces or None, include_deleted=include_deleted
        )
    if output is None:
        click.echo(files.dump(document, files.Format(fmt or "json")), nl=False)
        return
    try:
        if _is_folder(output):
            kind = files.Format(fmt or "json")
            parts = split_by_namespace(document)
            for ns, part in parts.items():
                files.write(Path(output) / f"{ns}.{kind.value}", files.dump(part, kind))
            where = f"{len(parts)} files in {output}"
        else:
            kind = files.Format(fmt) if fmt else files.format_for(Path(output))
            files.write(Path(output), files.dump(document, kind))
            where = output
    except files.DocumentError as exc:
        fail(str(exc), status=BAD_INPUT)
    count = len(document["mocks"])
    click.echo(
        f"Exported {count} mock{'s' if count != 1 else ''} of "
        f"{len(document['namespaces'])} namespace(s) to {where}",
        err=True,
    )


@click.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, default=None, help="Reject unknown mock fields.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@click.pass_context
def import_(ctx: click.Context, source: Path, strict: bool | None, as_json: bool) -> None:
    """Import an export (or mock files): create or overwrite by id; running it again is harmless."""
    from mockback.client import ApiError, files
    from mockback.client.transfer import ImportReport, import_document

    try:
        documents = files.read_all(source)
    except files.DocumentError as exc:
        fail(str(exc), status=BAD_INPUT)
    report = ImportReport()
    with connect(ctx) as client:
        for path, document in documents:
            try:
                import_document(client, document, strict=strict, report=report)
            except ApiError as exc:
                saved = len(report.created) + len(report.overwritten)
                fail(
                    f"{path}: {report.step}: {exc.message} (HTTP {exc.status_code}); "
                    f"{saved} mock(s) were saved before it, importing again is safe",
                    details=[f"{d.field or 'body'}: {d.problem}" for d in exc.details],
                )
            except ValueError as exc:
                fail(f"{path}: {exc}", status=BAD_INPUT)
    for warning in report.warnings:
        warn(warning)
    for key in report.skipped:
        warn(f'"{key}" is not known to this version of mockback; it was not imported')
    if as_json:
        echo_json(
            {
                "created": report.created,
                "overwritten": report.overwritten,
                "deleted": report.deleted,
                "written": report.written,
                "namespaces": report.namespaces,
                "warnings": report.warnings,
                "skipped": report.skipped,
            }
        )
        return
    saved = len(report.created) + len(report.overwritten)
    values = report.written.get("stores", 0)
    hooks = report.written.get("changeWebhooks", 0)
    click.echo(
        f"Imported {saved} mock{'s' if saved != 1 else ''} "
        f"({len(report.created)} created, {len(report.overwritten)} overwritten"
        + (f", {len(report.deleted)} deleted" if report.deleted else "")
        + f"), {values} store value{'s' if values != 1 else ''} "
        f"and {hooks} change webhook{'s' if hooks != 1 else ''} from {source}"
        + (
            f"; namespaces created or changed: {', '.join(report.namespaces)}"
            if report.namespaces
            else ""
        )
    )
