"""Export documents on disk: JSON or YAML, one file, or one file per namespace in a folder."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import orjson
import yaml

SUFFIXES = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}
"""File name endings read (and written) and the format each stands for."""


class Format(enum.Enum):
    """How a document is written."""

    JSON = "json"  # indented JSON, keys in document order
    YAML = "yaml"  # block-style YAML, keys in document order


class DocumentError(ValueError):
    """A file that cannot be read as a document; the message names the file."""


def dump(document: Any, fmt: Format) -> str:
    """The document as text, ending with a newline."""
    if fmt is Format.YAML:
        text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        return text
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"


def format_for(path: Path, default: Format = Format.JSON) -> Format:
    """The format a file name asks for."""
    kind = SUFFIXES.get(path.suffix.lower())
    return Format(kind) if kind else default


def read(path: Path) -> Any:
    """One file parsed (JSON by ``.json``, otherwise YAML, which also reads JSON)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".json":
            return orjson.loads(raw)
        return yaml.safe_load(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise DocumentError(f"{path}: not valid {kind}: {first}") from None


def read_all(path: Path) -> list[tuple[Path, Any]]:
    """Every document of a file, or of a folder's JSON/YAML files (recursively, by name)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        return [(f, read(f)) for f in files]
    if not path.exists():
        raise DocumentError(f"{path}: no such file or directory")
    return [(path, read(path))]


def write(path: Path, text: str) -> None:
    """Write a file, creating its folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DocumentError(f"{path}: cannot write: {exc.strerror or exc}") from None
