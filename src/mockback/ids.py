"""Typed, prefixed identifiers: a delivery id reads ``dlv_...``, a request id ``req_...``.

An id is the creation time in milliseconds (12 hex digits, so ids sort by time) followed by
80 random bits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

_RANDOM_BYTES = 10  # 80 random bits per id
_BATCH = 4096  # bytes read from the system's random source at a time


class _RandomPool:
    """The system's random bytes, read in batches: one ``getrandom`` call per ~400 ids.

    A busy server makes two ids per request (its log entry and a delivery); a system call for
    each cost more than the rest of making them. A batch is cut into the hex texts of its ids
    at once, and handed out by an iterator: ``next`` on it is one step under the GIL, so
    threads never get the same piece and no lock is taken.
    """

    def __init__(self) -> None:
        self._reset()
        # A forked child must not hand out the pieces its parent also holds.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._pieces: Iterator[str] = iter(())

    def take(self) -> str:
        """The next ``_RANDOM_BYTES`` random bytes, as hex."""
        try:
            return next(self._pieces)
        except StopIteration:
            pass
        text = os.urandom(_BATCH).hex()
        step = 2 * _RANDOM_BYTES
        pieces = iter([text[i : i + step] for i in range(0, len(text) - step + 1, step)])
        self._pieces = pieces  # threads refilling at once each take from their own batch
        return next(pieces)


_pool = _RandomPool()


def new_id(prefix: str, at: float | None = None) -> str:
    """A new id that sorts by creation time (``at``, epoch seconds, defaults to now)."""
    ms = time.time_ns() // 1_000_000 if at is None else int(at * 1000)
    return f"{prefix}_{ms:012x}{_pool.take()}"


def delivery_id() -> str:
    """Id of a delivery: stable across its attempts."""
    return new_id("dlv")


def request_id(at: float | None = None) -> str:
    """Id of a served request in the request log."""
    return new_id("req", at)
