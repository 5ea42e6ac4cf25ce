"""``mockback serve``: run the server (flags over ``MOCKBACK_*`` variables over defaults)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mockback.domain.errors import ConfigurationError
from mockback.scheduling import MODES


def _fail(message: str) -> None:
    click.echo(f"mockback: error: {message}", err=True)
    sys.exit(2)


@click.command()
@click.option("--host", help="Listen address [MOCKBACK_HOST; default 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Listen port; 0 picks a free one [MOCKBACK_PORT; default 5770].",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory of the SQLite database [MOCKBACK_DATA_DIR; default ./mockback-data].",
)
@click.option(
    "--ephemeral",
    is_flag=True,
    default=None,
    help="Keep everything in memory; write nothing [MOCKBACK_EPHEMERAL].",
)
@click.option("--db", help="Database DSN (postgresql://...) [MOCKBACK_DB].")
@click.option(
    "--mocks",
    "mocks",
    multiple=True,
    type=click.Path(path_type=Path),
    help="JSON/YAML file or folder of mocks to load at start (repeatable) [MOCKBACK_MOCKS].",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "console"]),
    help="Log format [MOCKBACK_LOG_FORMAT; default console].",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="Log level [MOCKBACK_LOG_LEVEL; default info].",
)
@click.option(
    "--strict",
    is_flag=True,
    default=None,
    help="Reject unknown mock fields instead of warning [MOCKBACK_STRICT].",
)
@click.option(
    "--faker-seed", type=int, help="Seed for reproducible $.fake values [MOCKBACK_FAKER_SEED]."
)
@click.option(
    "--cpu-scheduling",
    type=click.Choice(MODES),
    help="Kernel scheduling of the server's threads: batch when it may use one CPU (auto), "
    "always, or never [MOCKBACK_CPU_SCHEDULING; default auto].",
)
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    ephemeral: bool | None,
    db: str | None,
    mocks: tuple[Path, ...],
    log_format: str | None,
    log_level: str | None,
    strict: bool | None,
    faker_seed: int | None,
    cpu_scheduling: str | None,
) -> None:
    """Start the server."""
    import asyncio

    import uvloop

    from mockback import logs
    from mockback.runner import serve as run_server
    from mockback.settings import settings_from_env, validate

    try:
        settings = settings_from_env(os.environ).with_overrides(
            host=host,
            port=port,
            data_dir=data_dir,
            ephemeral=ephemeral,
            db=db,
            mocks=mocks or None,
            log_format=log_format,
            log_level=log_level,
            strict=strict,
            faker_seed=faker_seed,
            cpu_scheduling=cpu_scheduling,
        )
        validate(settings)
    except ConfigurationError as exc:
        _fail(exc.message)
        return
    logs.configure(fmt=settings.log_format, level=settings.log_level)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run_server(settings))
    except ConfigurationError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        pass
    sys.exit(0)
