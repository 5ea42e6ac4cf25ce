"""Structured logging: one line per event, JSON or console, via structlog."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value if value and " " not in value and "=" not in value else repr(value)
    return repr(value) if not isinstance(value, int | float | bool) else str(value)


def render_console(_: Any, __: str, event: dict[str, Any]) -> str:
    """``TIME [level] message key=value ...``: readable, and an order of magnitude cheaper than
    structlog's ConsoleRenderer (which pads, sorts and styles every line)."""
    timestamp = event.pop("timestamp", "")
    level = event.pop("level", "")
    message = event.pop("event", "")
    trace = event.pop("traceback", None)
    fields = " ".join(f"{k}={_text(v)}" for k, v in event.items())
    line = f"{timestamp} [{level}] {message}" + (f" {fields}" if fields else "")
    return line + ("\n" + trace.rstrip() if trace else "")


def configure(*, fmt: str, level: str) -> None:
    """Route structlog and stdlib logging to stderr in the chosen format."""
    numeric = logging.getLevelName(level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if fmt == "json":
        renderer: Any = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = render_console
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        level=numeric, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )


def get_logger(name: str) -> Any:
    """A bound structlog logger named after the module."""
    return structlog.get_logger(name)
