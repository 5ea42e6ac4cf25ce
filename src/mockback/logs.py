"""Structured logging: one line per event, JSON or console, via structlog.

Lines are bytes, written to stderr together once per turn of the event loop: a busy server logs
a line per delivery, and a write system call per line cost more than making the line.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
import time
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson
import structlog


class LineSink:
    """Log lines on their way to a stream: batched on the event loop, at once elsewhere.

    A line logged on a running event loop is written when the loop next runs its ready
    callbacks, with every other line logged until then (one ``write`` for all); a line logged
    outside a loop, or by another thread, is written at once. ``flush`` writes what waits.
    """

    def __init__(self, stream: BinaryIO | _TextStream) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._scheduled = False
        self._lock = threading.Lock()

    def write(self, line: bytes) -> None:
        """Queue one line (ending in a newline)."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            self._pending.append(line)
            if loop is not None and self._scheduled:
                return
            if loop is not None:
                self._scheduled = True
        if loop is None:
            self.flush()
        else:
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write every waiting line."""
        with self._lock:
            self._scheduled = False
            if not self._pending:
                return
            data = b"".join(self._pending)
            self._pending.clear()
            try:
                self._stream.write(data)
                self._stream.flush()
            except (OSError, ValueError):
                pass  # stderr closed or gone: there is nowhere left to log to


class _SinkLogger:
    """The structlog logger that hands rendered lines to a LineSink."""

    __slots__ = ("_sink",)

    def __init__(self, sink: LineSink) -> None:
        self._sink = sink

    def msg(self, message: bytes) -> None:
        self._sink.write(message + b"\n")

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class _TextStream:
    """A text stream (one without a byte buffer) seen as a byte stream."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        return int(self._stream.write(data.decode("utf-8", "replace")))

    def flush(self) -> None:
        self._stream.flush()


_sink: LineSink | None = None


def flush() -> None:
    """Write log lines still waiting for the event loop (at shutdown)."""
    if _sink is not None:
        _sink.flush()


atexit.register(flush)


class _Clock:
    """The time as ISO 8601 UTC with microseconds (``2026-11-22T19:24:03.042117Z``), its date
    and seconds formatted once per second: with a line per delivery, a datetime per line was
    the dearest part of stamping it."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        t = time.time()
        second = int(t)
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            self._second = second
        return f"{self._prefix}{int((t - second) * 1_000_000):06d}Z"


_clock = _Clock()
# structlog's add_log_level: the method called, but for these two
_LEVEL_OF_METHOD = {"warn": "warning", "exception": "error"}


def stamp(_: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Add ``level`` and ``timestamp`` (one processor for structlog's add_log_level and
    TimeStamper(fmt="iso", utc=True), which it equals but for always writing microseconds)."""
    event["level"] = _LEVEL_OF_METHOD.get(method, method)
    event["timestamp"] = _clock.now()
    return event


def _json_default(obj: Any) -> Any:
    """What JSONRenderer writes for a value JSON has no type for: its ``__structlog__()``,
    else its repr."""
    try:
        return obj.__structlog__()
    except AttributeError:
        return repr(obj)


def render_json(logger: Any, method: str, event: MutableMapping[str, Any]) -> bytes:
    """``stamp``, structlog's ``format_exc_info`` and its ``JSONRenderer`` (with orjson) as one
    processor: the same line, two Python calls fewer per line."""
    event["level"] = _LEVEL_OF_METHOD.get(method, method)
    event["timestamp"] = _clock.now()
    if "exc_info" in event:
        event = structlog.processors.format_exc_info(logger, method, event)
    return orjson.dumps(event, default=_json_default)


def _field(key: str, value: Any) -> str:
    """``key=value``: a word as it is, other text quoted, numbers plain, anything else repr."""
    if isinstance(value, str):
        if value and " " not in value and "=" not in value:
            return f"{key}={value}"
        return f"{key}={value!r}"
    if isinstance(value, int | float | bool):
        return f"{key}={value}"
    return f"{key}={value!r}"


def render_console(_: Any, __: str, event: dict[str, Any]) -> bytes:
    """``TIME [level] message key=value ...``: readable, and an order of magnitude cheaper than
    structlog's ConsoleRenderer (which pads, sorts and styles every line)."""
    timestamp = event.pop("timestamp", "")
    level = event.pop("level", "")
    message = event.pop("event", "")
    trace = event.pop("traceback", None) or event.pop("exception", None)
    line = f"{timestamp} [{level}] {message}"
    if event:
        line += " " + " ".join([_field(k, v) for k, v in event.items()])
    if trace:
        line += "\n" + trace.rstrip()
    return line.encode("utf-8", "replace")


class _SinkHandler(logging.Handler):
    """Standard-library records (from aiormq, aiokafka, ...) rendered like ours, same sink.

    Without it they went to stderr as plain text even with ``--log-format json``, and ahead of
    lines still waiting for the end of the loop turn.
    """

    def __init__(self, sink: LineSink, formatter: logging.Formatter) -> None:
        super().__init__()
        self._sink = sink
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._sink.write(line.encode("utf-8", "replace") + b"\n")


def _json_text(obj: Any, **kw: Any) -> str:
    return orjson.dumps(obj, default=kw.get("default")).decode()


def _console_text(logger: Any, name: str, event: dict[str, Any]) -> str:
    return render_console(logger, name, event).decode("utf-8", "replace")


def _deliver(logger: Any, method: str, result: Any) -> Any:
    """Hand the last processor's result to the wrapped logger, as structlog does."""
    if isinstance(result, str | bytes | bytearray):
        return getattr(logger, method)(result)
    if isinstance(result, tuple):
        args, kw = result
        return getattr(logger, method)(*args, **kw)
    if isinstance(result, dict):
        return getattr(logger, method)(**result)
    raise ValueError(
        "Last processor didn't return an appropriate value.  "
        "Valid return values are a dict, a tuple of (args, kwargs), bytes, or a str."
    )


def _line_method(method: str) -> Any:
    """A level method that builds the event and runs the processors in its own frame.

    structlog's filtering logger passes each line through three more calls (the level method,
    ``_proxy_to_logger``, ``_process_event``), each repacking the keyword arguments: with a
    line per delivery that was most of a line's cost. Same event, processors and result.
    """

    def line(self: Any, event: str, *args: Any, **kw: Any) -> Any:
        if args:
            one = args[0]
            event = event % (one if len(args) == 1 and isinstance(one, Mapping) and one else args)
        context = self._context
        event_dict: Any = {**context, **kw} if context else kw
        event_dict["event"] = event
        logger = self._logger
        try:
            for processor in self._processors:
                event_dict = processor(logger, method, event_dict)
        except structlog.DropEvent:
            return None
        return _deliver(logger, method, event_dict)

    line.__name__ = method
    return line


def _logger_class(min_level: int) -> type[Any]:
    """structlog's filtering bound logger for ``min_level``, with faster level methods."""
    base: Any = structlog.make_filtering_bound_logger(min_level)
    methods = {
        method: _line_method(method)
        for method, level in _METHOD_LEVELS.items()
        if level >= min_level
    }
    return type("BoundLogger", (base,), methods)


_METHOD_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def configure(*, fmt: str, level: str) -> None:
    """Route structlog and stdlib logging to stderr in the chosen format."""
    global _sink
    flush()  # what the previous configuration still holds goes where it was meant to
    stream = getattr(sys.stderr, "buffer", None)
    sink = _sink = LineSink(stream if stream is not None else _TextStream(sys.stderr))
    numeric = logging.getLevelName(level.upper())
    processors: list[Any]
    if fmt == "json":
        processors = [render_json]
        text_renderer: Any = structlog.processors.JSONRenderer(serializer=_json_text)
    else:
        processors = [stamp, render_console]
        text_renderer = _console_text
    structlog.configure(
        processors=processors,
        wrapper_class=_logger_class(numeric),
        logger_factory=lambda *_: _SinkLogger(sink),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            stamp,
            structlog.processors.format_exc_info,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, text_renderer],
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _SinkHandler):
            root.removeHandler(handler)
    root.addHandler(_SinkHandler(sink, formatter))
    root.setLevel(numeric)


class _ModuleLogger:
    """A module's logger, made on first use (so after logging is configured) and then kept, as
    structlog's ``cache_logger_on_first_use`` keeps it; its methods are then plain attributes,
    where structlog's lazy proxy looks each one up again on every line."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        value = getattr(structlog.get_logger(self._name).bind(), attribute)
        if structlog.get_config()["cache_logger_on_first_use"]:
            setattr(self, attribute, value)
        return value


def get_logger(name: str) -> Any:
    """A bound structlog logger named after the module."""
    return _ModuleLogger(name)
