"""The server the client commands talk to, and how their failures reach the terminal.

Commands open the client through ``connect(ctx)``: a refused call prints the server's message
and field problems on stderr and exits 1. The client package is imported only then, so
``mockback serve`` and ``--help`` do not pay for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from mockback.client import Client

DEFAULT_URL = "http://127.0.0.1:5770"
"""Where ``mockback serve`` listens by default (the client's ``DEFAULT_URL``)."""

FAILED = 1
"""Exit status when the server refused a call, could not be reached, or a wait timed out."""

BAD_INPUT = 2
"""Exit status for bad usage or an unreadable file (click's own usage errors use it too)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Remote:
    """The global options of the client commands."""

    url: str  # the server's base URL
    token: str | None  # API token, sent as a bearer token
    timeout: float  # seconds per call


def fail(message: str, *, details: list[str] | None = None, status: int = FAILED) -> NoReturn:
    """Print ``mockback: error: ...`` (and detail lines) on stderr and exit."""
    click.echo(f"mockback: error: {message}", err=True)
    for line in details or []:
        click.echo(f"  {line}", err=True)
    raise SystemExit(status)


def warn(message: str) -> None:
    """Print ``mockback: warning: ...`` on stderr."""
    click.echo(f"mockback: warning: {message}", err=True)


@contextmanager
def connect(ctx: click.Context) -> Iterator[Client]:
    """A client of the server named by the global options; client errors end the command."""
    from mockback.client import ApiError, Client, ClientError

    remote = ctx.find_object(Remote)
    if remote is None:  # a command invoked on its own, not through ``main``
        remote = Remote(url=DEFAULT_URL, token=None, timeout=30.0)
    try:
        with Client(remote.url, remote.token, timeout=remote.timeout) as client:
            yield client
    except ApiError as exc:
        fail(
            f"{exc.message} (HTTP {exc.status_code})",
            details=[f"{d.field or 'body'}: {d.problem}" for d in exc.details],
        )
    except ClientError as exc:
        fail(str(exc))
