"""Log lines reach stderr whole and in order, batched per event-loop turn, libraries' too."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest
import structlog

from mockback import logs
from mockback.logs import LineSink


class CountingStream(io.BytesIO):
    """A byte stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(data)


def test_outside_a_loop_a_line_is_written_at_once() -> None:
    """A line logged with no running event loop is on the stream when the call returns."""
    stream = CountingStream()
    LineSink(stream).write(b"one\n")
    assert stream.getvalue() == b"one\n"


async def test_lines_of_one_loop_turn_share_one_write() -> None:
    """Lines logged on the loop wait for its next turn, then go out in order in one write."""
    stream = CountingStream()
    sink = LineSink(stream)
    for n in range(3):
        sink.write(f"line {n}\n".encode())
    assert stream.getvalue() == b""
    await asyncio.sleep(0)
    assert stream.getvalue() == b"line 0\nline 1\nline 2\n"
    assert stream.writes == 1
    sink.write(b"later\n")
    await asyncio.sleep(0)
    assert stream.getvalue().endswith(b"line 2\nlater\n")
    assert stream.writes == 2


async def test_flush_writes_what_waits() -> None:
    """flush (as at shutdown) writes lines whose loop turn has not come."""
    stream = CountingStream()
    sink = LineSink(stream)
    sink.write(b"pending\n")
    sink.flush()
    assert stream.getvalue() == b"pending\n"
    await asyncio.sleep(0)  # the scheduled flush finds nothing left to write
    assert stream.getvalue() == b"pending\n"


def test_a_closed_stream_is_not_an_error() -> None:
    """Logging to a closed stderr loses the line quietly instead of failing the caller."""
    stream = CountingStream()
    stream.close()
    LineSink(stream).write(b"lost\n")


class CapturedLogs:
    """Logging configured onto pytest's captured stderr."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def configure(self, fmt: str, level: str) -> None:
        logs.configure(fmt=fmt, level=level)

    def read(self) -> str:
        logs.flush()
        return self._capsys.readouterr().err


@pytest.fixture
def captured(capsys: pytest.CaptureFixture[str]) -> Iterator[CapturedLogs]:
    """Logging on a captured stderr; the global logging and structlog set-up is put back."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield CapturedLogs(capsys)
    logs.flush()
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


def test_library_records_are_json_lines_in_json_mode(
    captured: CapturedLogs,
) -> None:
    """A library's stdlib log record comes out as one of our JSON lines, with its logger name."""
    captured.configure("json", "info")
    logging.getLogger("aiokafka.conn").warning("broker %s is down", "127.0.0.1:9")
    logging.getLogger("aiokafka.conn").debug("below the level")
    logs.get_logger("mockback.delivery").info("ours", delivery_id="dlv_1")
    lines = captured.read().splitlines()
    first, second = (orjson.loads(line) for line in lines)
    assert (first["event"], first["level"], first["logger"]) == (
        "broker 127.0.0.1:9 is down",
        "warning",
        "aiokafka.conn",
    )
    assert first["timestamp"].endswith("Z")
    assert (second["event"], second["delivery_id"]) == ("ours", "dlv_1")


def test_library_exceptions_keep_their_traceback(captured: CapturedLogs) -> None:
    """A stdlib record with an exception carries the traceback, in either format."""
    for fmt in ("json", "console"):
        captured.configure(fmt, "info")
        try:
            raise RuntimeError("broken pipe dream")
        except RuntimeError:
            logging.getLogger("aiormq").exception("publish failed")
        out = captured.read()
        assert "publish failed" in out and "RuntimeError: broken pipe dream" in out
        if fmt == "json":
            assert "Traceback" in orjson.loads(out)["exception"]


def test_console_lines_name_the_library_logger(captured: CapturedLogs) -> None:
    """In console format a library's line reads like ours, with ``logger=`` and its level."""
    captured.configure("console", "warning")
    logging.getLogger("aiormq.connection").warning("reconnecting in %d s", 5)
    logging.getLogger("aiormq.connection").info("below the level")
    (line,) = captured.read().splitlines()
    assert line.endswith("[warning] reconnecting in 5 s logger=aiormq.connection")


def test_stamp_writes_the_level_and_the_utc_time_with_microseconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every line's time is ISO 8601 UTC with six fraction digits, right across seconds."""
    times = iter([1_795_000_000.000004, 1_795_000_000.999999, 1_795_000_001.5])
    monkeypatch.setattr(logs.time, "time", lambda: next(times))
    clock = logs._Clock()
    monkeypatch.setattr(logs, "_clock", clock)
    stamped = [logs.stamp(None, method, {}) for method in ("warn", "info", "exception")]
    assert stamped == [
        {"level": "warning", "timestamp": "2026-11-18T11:06:40.000004Z"},
        {"level": "info", "timestamp": "2026-11-18T11:06:40.999999Z"},
        {"level": "error", "timestamp": "2026-11-18T11:06:41.500000Z"},
    ]


def test_console_fields_quote_what_would_not_read_back() -> None:
    """Words stay bare; text with spaces or ``=``, empty text and None are quoted as repr."""
    line = logs.render_console(
        None,
        "info",
        {
            "event": "Callback executed successfully",
            "level": "info",
            "timestamp": "T",
            "delivery_id": "dlv_1",
            "target": "amqp://h/ exchange=''",
            "empty": "",
            "attempt": 2,
            "ok": True,
            "none": None,
        },
    )
    assert line == (
        b"T [info] Callback executed successfully delivery_id=dlv_1 "
        b"target=\"amqp://h/ exchange=''\" empty='' attempt=2 ok=True none=None"
    )


def test_our_json_lines_keep_structlogs_shape(
    captured: CapturedLogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fields in the order given, then event, level and time; %-arguments interpolated; values
    JSON has no type for written as their repr; an exception as its traceback; nothing below
    the configured level."""
    monkeypatch.setattr(logs, "_clock", logs._Clock())
    monkeypatch.setattr(logs.time, "time", lambda: 1_795_000_000.25)
    captured.configure("json", "info")
    log = logs.get_logger("mockback.test")
    log.debug("below the level", delivery_id="dlv_0")
    log.info("Callback executed successfully", delivery_id="dlv_1", attempt=2, ok=True)
    log.warning("retry in %s s", 5, delay=timedelta(seconds=5))
    try:
        raise ValueError("bad body")
    except ValueError:
        log.error("Failed to prepare webhook body", exc_info=True)
    info, warning, error = (orjson.loads(line) for line in captured.read().splitlines())
    assert list(info.items()) == [
        ("delivery_id", "dlv_1"),
        ("attempt", 2),
        ("ok", True),
        ("event", "Callback executed successfully"),
        ("level", "info"),
        ("timestamp", "2026-11-18T11:06:40.250000Z"),
    ]
    assert (warning["event"], warning["level"]) == ("retry in 5 s", "warning")
    assert warning["delay"] == repr(timedelta(seconds=5))
    assert error["level"] == "error" and "exc_info" not in error
    assert "Traceback" in error["exception"] and "ValueError: bad body" in error["exception"]


def test_console_lines_of_our_loggers(captured: CapturedLogs) -> None:
    """Console format: time, level, message, then the fields as key=value."""
    captured.configure("console", "warning")
    log = logs.get_logger("mockback.test")
    log.info("below the level")
    log.warning("Callback attempt failed", delivery_id="dlv_1", attempt=1)
    (line,) = captured.read().splitlines()
    assert line.endswith("[warning] Callback attempt failed delivery_id=dlv_1 attempt=1")


def test_captured_logs_see_module_loggers(captured: CapturedLogs) -> None:
    """structlog's capture_logs (how tests read log events) sees lines of a module's logger,
    also one that has logged before."""
    captured.configure("json", "info")
    log = logs.get_logger("mockback.test")
    log.info("before")
    with structlog.testing.capture_logs() as seen:
        log.info("during", delivery_id="dlv_1")
        log.bind(attempt=3).warning("bound")
    log.info("after")
    assert seen == [
        {"event": "during", "delivery_id": "dlv_1", "log_level": "info"},
        {"event": "bound", "attempt": 3, "log_level": "warning"},
    ]
    assert [orjson.loads(line)["event"] for line in captured.read().splitlines()] == [
        "before",
        "after",
    ]
