"""What the client commands print: aligned tables for people, JSON for scripts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import click
import orjson


def echo_json(value: Any) -> None:
    """Indented JSON on stdout."""
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def compact(value: Any) -> str:
    """A JSON value on one line (strings as they are)."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def when(value: datetime | str | None) -> str:
    """A time for a table: UTC, to the second."""
    if value is None:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; no trailing spaces."""
    cells = [[str(h) for h in headers], *([_cell(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def fields(pairs: Iterable[tuple[str, Any]]) -> str:
    """Name/value lines, names aligned."""
    items = [(name, _cell(value)) for name, value in pairs]
    width = max((len(name) for name, _ in items), default=0)
    return "\n".join(f"{name.ljust(width)}  {value}".rstrip() for name, value in items)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return when(value)
    return str(value)


def page_footer(shown: int, offset: int, total: int, noun: str) -> None:
    """On stderr, when the page does not show every match."""
    if shown < total:
        first = offset + 1 if shown else offset
        click.echo(
            f"{noun} {first}-{offset + shown} of {total} (use --offset and --limit for others)",
            err=True,
        )


def mock_route(mock: Mapping[str, Any]) -> str:
    """``POST /api/payments`` (``ANY`` when the mock takes every method)."""
    http = mock.get("http") or {}
    method = str(http.get("httpMethod") or "ANY").upper()
    return f"{method} {http.get('route', '?')}"
