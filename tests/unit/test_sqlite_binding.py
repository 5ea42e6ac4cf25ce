"""The SQLite store's adapters for None and bytes bind values unchanged and leave a program's own
adapters alone."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import mockback.store.sqlite  # noqa: F401 - registers the adapters


def test_none_and_bytes_bind_unchanged() -> None:
    conn = sqlite3.connect(":memory:")
    row = conn.execute(
        "SELECT ?, typeof(?), ?, typeof(?)", (None, None, b"\x00\xff", b"")
    ).fetchone()
    assert row == (None, "null", b"\x00\xff", "blob")


def test_an_adapter_registered_before_is_kept() -> None:
    code = (
        "import sqlite3\n"
        "sqlite3.register_adapter(bytes, lambda b: b.hex())\n"
        "import mockback.store.sqlite\n"
        "print(sqlite3.connect(':memory:').execute('SELECT ?', (b'\\x01',)).fetchone()[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "01"
