"""Typed, prefixed identifiers: a delivery id reads ``dlv_...``, a request id ``req_...``.

An id is the creation time in milliseconds (12 hex digits, so ids sort by time) followed by
80 random bits.
"""

from __future__ import annotations

import os
import time


def new_id(prefix: str, at: float | None = None) -> str:
    """A new id that sorts by creation time (``at``, epoch seconds, defaults to now)."""
    ms = time.time_ns() // 1_000_000 if at is None else int(at * 1000)
    return f"{prefix}_{ms:012x}{os.urandom(10).hex()}"


def delivery_id() -> str:
    """Id of a delivery: stable across its attempts."""
    return new_id("dlv")


def request_id(at: float | None = None) -> str:
    """Id of a served request in the request log."""
    return new_id("req", at)
