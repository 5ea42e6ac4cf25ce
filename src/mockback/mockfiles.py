"""Reading mock definitions from JSON/YAML files and folders (``--mocks``, ``import``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from mockback.domain.errors import ConfigurationError

_SUFFIXES = (".json", ".yaml", ".yml")


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)
    if path.is_file():
        return [path]
    raise ConfigurationError(f"--mocks {path}: no such file or directory")


def _read(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".json":
            return orjson.loads(raw)
        return yaml.safe_load(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigurationError(f"{path}: not valid {path.suffix[1:].upper()}: {first}") from None


def read_mock_documents(paths: list[Path]) -> list[tuple[str, Any]]:
    """(where, document) for every mock in the files and folders, in a stable order.

    A file holds one mock, a list of mocks, or an export (``{"mocks": [...]}``).
    """
    out: list[tuple[str, Any]] = []
    for path in paths:
        for file in _files(path):
            data = _read(file)
            if isinstance(data, dict) and isinstance(data.get("mocks"), list):
                data = data["mocks"]
            if isinstance(data, list):
                out.extend((f"{file}[{i}]", item) for i, item in enumerate(data))
            elif data is None:
                continue
            else:
                out.append((str(file), data))
    return out
