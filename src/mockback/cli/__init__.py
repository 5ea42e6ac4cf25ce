"""The ``mockback`` command: ``serve`` runs the server; the other commands talk to a running one.

Global options come before the command: ``mockback --server URL mock list``. The server is
``--server``, else ``MOCKBACK_URL``, else http://127.0.0.1:5770; the token is ``--token`` or
``MOCKBACK_TOKEN``. ``serve`` ignores them.
"""

from __future__ import annotations

import click

from mockback.cli.deliveries import deliveries_group
from mockback.cli.mocks import mock_group
from mockback.cli.remote import DEFAULT_URL, Remote
from mockback.cli.serve import serve
from mockback.cli.transfer import export, import_


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--server",
    envvar="MOCKBACK_URL",
    default=DEFAULT_URL,
    show_default=True,
    metavar="URL",
    help="The Mockback server the client commands talk to [MOCKBACK_URL].",
)
@click.option(
    "--token",
    envvar="MOCKBACK_TOKEN",
    default=None,
    help="API token for the client commands [MOCKBACK_TOKEN].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each answer of the server.",
)
@click.version_option(package_name="mockback")
@click.pass_context
def main(ctx: click.Context, server: str, token: str | None, timeout: float) -> None:
    """Mockback: a mock API server whose mocks call back."""
    ctx.obj = Remote(url=server, token=token or None, timeout=timeout)


main.add_command(serve)
main.add_command(mock_group)
main.add_command(deliveries_group)
main.add_command(export)
main.add_command(import_)

__all__ = ["main"]
