"""Accessors for JSON paths like ``$.a.b[0]['any key']``, parsed once and applied many times."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_MISSING: Any = object()
_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z0-9_\-]+)|\[(?P<index>-?\d+)\]|\['(?P<sq>(?:[^'\\]|\\.)*)'\]|\["(?P<dq>(?:[^"\\]|\\.)*)"\]"""
)

Accessor = Callable[[Any], Any]
"""Returns the value at the path, or ``MISSING`` when there is none."""

MISSING = _MISSING


def parse_path(path: str) -> tuple[str | int, ...] | None:
    """Steps of a path (``$`` optional at the start); None when the text is not a path."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and not text.startswith((".", "[")):
        text = "." + text
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            return None
        if m.group("name") is not None:
            steps.append(m.group("name"))
        elif m.group("index") is not None:
            steps.append(int(m.group("index")))
        else:
            raw = m.group("sq") if m.group("sq") is not None else m.group("dq")
            steps.append(re.sub(r"\\(.)", r"\1", raw))
        pos = m.end()
    return tuple(steps)


def follow(value: Any, steps: tuple[str | int, ...]) -> Any:
    """The value at ``steps`` inside ``value``, or ``MISSING``."""
    for step in steps:
        if isinstance(step, int):
            if isinstance(value, list) and -len(value) <= step < len(value):
                value = value[step]
            else:
                return _MISSING
        elif isinstance(value, dict):
            value = value.get(step, _MISSING)
            if value is _MISSING:
                return _MISSING
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return _MISSING
    return value


def compile_path(path: str) -> Accessor | None:
    """An accessor for ``path``, or None when the text is not a path."""
    steps = parse_path(path)
    if steps is None:
        return None
    if not steps:
        return lambda value: value
    if len(steps) == 1 and isinstance(steps[0], str):
        key = steps[0]

        def one(value: Any) -> Any:
            if isinstance(value, dict):
                return value.get(key, _MISSING)
            return follow(value, (key,))

        return one
    return lambda value: follow(value, steps)
