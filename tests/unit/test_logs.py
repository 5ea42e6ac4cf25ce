"""Log lines reach stderr whole and in order, batched per event-loop turn."""

from __future__ import annotations

import asyncio
import io

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
