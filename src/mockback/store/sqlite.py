"""The SQLite Store: the default, one file in the data directory (WAL, synchronous=FULL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any

import orjson

from mockback.domain.deliveries import Delivery, DeliveryStatus
from mockback.store.base import DeliveryQuery, DeliveryUpdate, MockQuery, MockRecord, SavedMock
from mockback.store.committer import Committer
from mockback.store.filters import mock_matches_query
from mockback.store.rows import (
    ATTEMPT_COLUMNS,
    DELIVERY_COLUMNS,
    attempt_from_row,
    attempt_row,
    delivery_from_row,
    delivery_row,
    state_row,
    ts,
)
from mockback.store.sqlite_accounts import ACCOUNTS_SCHEMA, SqliteAccounts, insert_outbox
from mockback.store.sqlite_maintenance import SqliteMaintenance

# Python 3.11's sqlite3 looks for a way to adapt every None and bytes value it binds, and the
# look-up raises and clears an AttributeError each time (about 0.2 us per value; a delivery
# binds several). Adapters registered for the two types are found first and return the value
# unchanged, both in C: ``bytes(b)`` is ``b``, and an empty dict's ``get`` answers None. An
# adapter the embedding program registered first for either type is left in place.
_NOTHING: dict[None, None] = {}
if (type(None), sqlite3.PrepareProtocol) not in sqlite3.adapters:
    sqlite3.register_adapter(type(None), _NOTHING.get)
if (bytes, sqlite3.PrepareProtocol) not in sqlite3.adapters:
    sqlite3.register_adapter(bytes, bytes)

# Open (not final) deliveries, spelled the same in the partial index and in queries that use it.
_OPEN = "status IN ({})".format(", ".join(f"'{s.value}'" for s in DeliveryStatus if not s.is_final))

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS mocks (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mocks_namespace ON mocks (namespace, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    mock_id TEXT,
    namespace TEXT NOT NULL,
    request_id TEXT,
    callback_index INTEGER NOT NULL,
    callback_id TEXT,
    type TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    finished_at TEXT,
    attempt_count INTEGER NOT NULL,
    error TEXT,
    body BLOB,
    spec TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries (status, due_at);
CREATE INDEX IF NOT EXISTS deliveries_unfinished ON deliveries (due_at, id) WHERE {_OPEN};
CREATE INDEX IF NOT EXISTS deliveries_mock ON deliveries (mock_id, created_at);
CREATE INDEX IF NOT EXISTS deliveries_created ON deliveries (created_at);
CREATE INDEX IF NOT EXISTS deliveries_request ON deliveries (request_id);
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    outcome TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    response_headers TEXT,
    response_body TEXT,
    truncated INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, number)
);
CREATE TABLE IF NOT EXISTS store_values (
    scope TEXT NOT NULL,
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, owner, key)
);
"""


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _record(row: tuple[Any, ...]) -> MockRecord:
    created = _dt(row[3])
    updated = _dt(row[4])
    assert created is not None and updated is not None
    return MockRecord(
        id=row[0],
        namespace=row[1],
        document=orjson.loads(row[2]),
        created_at=created,
        updated_at=updated,
        deleted_at=_dt(row[5]),
        seq=row[6],
    )


_CHUNK = 500  # ids per IN (...) list, well under SQLite's bound on variables
_EXACT_ROWS = 64  # up to this many rows go in one statement of their own size
_MAX_ROWS = 512  # rows per multi-row statement (16 columns: 8,192 variables)

# Many deliveries' states in one statement; a batch holds at most one row per delivery.
_UPDATE_STATES = (
    "UPDATE deliveries SET status = v.column2, due_at = v.column3, finished_at = v.column4,"
    " attempt_count = v.column5, error = v.column6 FROM (VALUES"
)
_UPDATE_STATES_TAIL = ") AS v WHERE deliveries.id = v.column1"


def _insert_rows(
    conn: sqlite3.Connection, head: str, rows: list[tuple[Any, ...]], *, tail: str = ""
) -> None:
    """Run ``head (?, ...), (?, ...) tail`` over rows, many rows per statement.

    Every SQLite call hands the GIL to the event loop and back, so rows go in as few
    statements as possible: up to ``_EXACT_ROWS`` rows (a busy server's usual write) in one
    statement of exactly their number, more in chunks whose sizes are powers of two, so that a
    few hundred statement texts are ever prepared and all stay cached.
    """
    if not rows:
        return
    width = len(rows[0])
    start = 0
    while start < len(rows):
        left = len(rows) - start
        size = left if left <= _EXACT_ROWS else min(_MAX_ROWS, 1 << (left.bit_length() - 1))
        chunk = rows[start : start + size] if size != len(rows) else rows
        conn.execute(_statement(head, tail, width, size), list(chain.from_iterable(chunk)))
        start += size


@cache
def _statement(head: str, tail: str, width: int, size: int) -> str:
    """``head (?, ...), (?, ...) tail`` for ``size`` rows of ``width`` values."""
    marks = "(" + ", ".join("?" * width) + ")"
    return f"{head} {', '.join([marks] * size)}{tail}"


_COLUMNS = "id, namespace, document, created_at, updated_at, deleted_at, seq"


class SqliteStore(SqliteAccounts, SqliteMaintenance):
    """SQLite behind the Store seam; all access on one writer thread with group commit."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._committer = Committer(self._connect)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, cached_statements=512
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        # Multi-row statements need a statement journal and UPDATE ... FROM a temporary table:
        # kept in memory, not in files created and removed under /var/tmp.
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.executescript(SCHEMA)
        conn.executescript(ACCOUNTS_SCHEMA)
        return conn

    async def open(self) -> None:
        """Open (creating the file and schema if missing)."""
        self._committer.start()

    async def close(self) -> None:
        """Commit what is queued and close."""
        self._committer.stop()

    async def save_mock(
        self, document: Mapping[str, Any], now: datetime, *, outbox: Sequence[Delivery] = ()
    ) -> SavedMock:
        """Create or overwrite, keeping created_at and seq of an existing id (with the outbox)."""
        mock_id = str(document["id"])
        namespace = str(document.get("namespace", "sandbox"))
        body = orjson.dumps(dict(document)).decode()
        outbox_rows = [delivery_row(d) for d in outbox]

        def op(conn: sqlite3.Connection) -> SavedMock:
            insert_outbox(conn, outbox_rows)
            row = conn.execute(f"SELECT {_COLUMNS} FROM mocks WHERE id = ?", (mock_id,)).fetchone()
            before = None if row is None else _record(row)
            if before is None:
                seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM mocks").fetchone()[0]
                conn.execute(
                    f"INSERT INTO mocks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, ?)",
                    (mock_id, namespace, body, _ts(now), _ts(now), seq),
                )
                created = now
            else:
                seq, created = before.seq, before.created_at
                conn.execute(
                    "UPDATE mocks SET namespace = ?, document = ?, updated_at = ?, deleted_at = NULL"
                    " WHERE id = ?",
                    (namespace, body, _ts(now), mock_id),
                )
            record = MockRecord(
                id=mock_id,
                namespace=namespace,
                document=orjson.loads(body),
                created_at=created,
                updated_at=now,
                deleted_at=None,
                seq=seq,
            )
            return SavedMock(record=record, overwritten=before is not None, before=before)

        return await self._committer.call(op)

    async def get_mock(self, mock_id: str) -> MockRecord | None:
        """By id."""

        def op(conn: sqlite3.Connection) -> MockRecord | None:
            row = conn.execute(f"SELECT {_COLUMNS} FROM mocks WHERE id = ?", (mock_id,)).fetchone()
            return None if row is None else _record(row)

        return await self._committer.call(op)

    async def list_mocks(self, query: MockQuery) -> tuple[list[MockRecord], int]:
        """Namespace and deletion filtered in SQL, tags and search in Python."""

        def op(conn: sqlite3.Connection) -> list[MockRecord]:
            sql = f"SELECT {_COLUMNS} FROM mocks WHERE 1 = 1"
            args: list[Any] = []
            if query.namespace is not None:
                sql += " AND namespace = ?"
                args.append(query.namespace)
            if not query.include_deleted:
                sql += " AND deleted_at IS NULL"
            sql += " ORDER BY seq"
            return [_record(r) for r in conn.execute(sql, args).fetchall()]

        rows = [r for r in await self._committer.call(op) if mock_matches_query(r, query)]
        return rows[query.offset : query.offset + query.limit], len(rows)

    async def active_mocks(self) -> list[MockRecord]:
        """Not deleted, by creation."""

        def op(conn: sqlite3.Connection) -> list[MockRecord]:
            sql = f"SELECT {_COLUMNS} FROM mocks WHERE deleted_at IS NULL ORDER BY seq"
            return [_record(r) for r in conn.execute(sql).fetchall()]

        return await self._committer.call(op)

    async def set_mock_deleted(
        self,
        mock_id: str,
        deleted_at: datetime | None,
        now: datetime,
        *,
        outbox: Sequence[Delivery] = (),
    ) -> MockRecord | None:
        """Soft delete or restore (with the outbox, when the mock exists)."""
        outbox_rows = [delivery_row(d) for d in outbox]

        def op(conn: sqlite3.Connection) -> MockRecord | None:
            cur = conn.execute(
                "UPDATE mocks SET deleted_at = ?, updated_at = ? WHERE id = ?",
                (_ts(deleted_at), _ts(now), mock_id),
            )
            if cur.rowcount:
                insert_outbox(conn, outbox_rows)
            row = conn.execute(f"SELECT {_COLUMNS} FROM mocks WHERE id = ?", (mock_id,)).fetchone()
            return None if row is None else _record(row)

        return await self._committer.call(op)

    async def get_values(self, scope: str, owner: str) -> dict[str, Any]:
        """One store."""

        def op(conn: sqlite3.Connection) -> dict[str, Any]:
            rows = conn.execute(
                "SELECT key, value FROM store_values WHERE scope = ? AND owner = ?", (scope, owner)
            ).fetchall()
            return {k: orjson.loads(v) for k, v in rows}

        return await self._committer.call(op)

    async def merge_values(
        self, scope: str, owner: str, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Upsert keys and return the whole store."""
        encoded = [(scope, owner, k, orjson.dumps(v).decode()) for k, v in values.items()]

        def op(conn: sqlite3.Connection) -> dict[str, Any]:
            conn.executemany(
                "INSERT INTO store_values (scope, owner, key, value) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (scope, owner, key) DO UPDATE SET value = excluded.value",
                encoded,
            )
            rows = conn.execute(
                "SELECT key, value FROM store_values WHERE scope = ? AND owner = ?", (scope, owner)
            ).fetchall()
            return {k: orjson.loads(v) for k, v in rows}

        return await self._committer.call(op)

    async def delete_value(self, scope: str, owner: str, key: str) -> bool:
        """Remove a key."""

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM store_values WHERE scope = ? AND owner = ? AND key = ?",
                (scope, owner, key),
            )
            return cur.rowcount > 0

        return await self._committer.call(op)

    async def all_values(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Everything, for the cache."""

        def op(conn: sqlite3.Connection) -> dict[tuple[str, str], dict[str, Any]]:
            out: dict[tuple[str, str], dict[str, Any]] = {}
            for scope, owner, key, value in conn.execute(
                "SELECT scope, owner, key, value FROM store_values"
            ).fetchall():
                out.setdefault((scope, owner), {})[key] = orjson.loads(value)
            return out

        return await self._committer.call(op)

    async def insert_deliveries(self, deliveries: list[Delivery]) -> None:
        """Insert; committed (durable) when this returns."""
        await self.write_deliveries(deliveries, [])

    async def update_deliveries(self, updates: list[DeliveryUpdate]) -> None:
        """State changes and attempts in one transaction."""
        await self.write_deliveries([], updates)

    async def write_deliveries(self, new: list[Delivery], updates: list[DeliveryUpdate]) -> None:
        """Insert, then update, in one transaction; committed when this returns."""
        # The last state of a delivery wins (one UPDATE row per delivery, in a set).
        states = {u.delivery_id: state_row(u) for u in updates}
        attempts = [attempt_row(u.delivery_id, u.attempt) for u in updates if u.attempt is not None]
        rows = []
        for d in new:
            row = delivery_row(d)
            state = states.pop(d.id, None)
            if state is not None:
                # Inserted and updated in the same write: the row goes in as updated, once
                # (an UPDATE would rewrite the whole row and its indexes again).
                row = (*row[:8], state[1], row[9], *state[2:], *row[14:])
            rows.append(row)

        def op(conn: sqlite3.Connection) -> None:
            _insert_rows(conn, f"INSERT INTO deliveries ({DELIVERY_COLUMNS}) VALUES", rows)
            _insert_rows(conn, _UPDATE_STATES, list(states.values()), tail=_UPDATE_STATES_TAIL)
            _insert_rows(
                conn, f"INSERT OR REPLACE INTO attempts ({ATTEMPT_COLUMNS}) VALUES", attempts
            )

        await self._committer.call(op)

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        """With attempts."""

        def op(conn: sqlite3.Connection) -> Delivery | None:
            row = conn.execute(
                f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
            if row is None:
                return None
            attempts = tuple(
                attempt_from_row(a)
                for a in conn.execute(
                    f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = ? ORDER BY number",
                    (delivery_id,),
                ).fetchall()
            )
            return delivery_from_row(row, attempts)

        return await self._committer.call(op)

    async def list_deliveries(self, query: DeliveryQuery) -> tuple[list[Delivery], int]:
        """Newest first."""
        where = ["1 = 1"]
        args: list[Any] = []
        if query.mock_id is not None:
            where.append("mock_id = ?")
            args.append(query.mock_id)
        if query.namespace is not None:
            where.append("namespace = ?")
            args.append(query.namespace)
        if query.request_id is not None:
            where.append("request_id = ?")
            args.append(query.request_id)
        if query.statuses:
            where.append(f"status IN ({', '.join('?' for _ in query.statuses)})")
            args.extend(s.value for s in query.statuses)
        clause = " AND ".join(where)

        def op(conn: sqlite3.Connection) -> tuple[list[Delivery], int]:
            total = conn.execute(
                f"SELECT COUNT(*) FROM deliveries WHERE {clause}", args
            ).fetchone()[0]
            rows = conn.execute(
                f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {clause}"
                " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                [*args, query.limit, query.offset],
            ).fetchall()
            return [delivery_from_row(r) for r in rows], total

        return await self._committer.call(op)

    async def unfinished_deliveries(
        self, *, due_before: datetime | None, limit: int, exclude: frozenset[str] = frozenset()
    ) -> list[Delivery]:
        """Not final, oldest due first.

        Ids are read first from a partial index of open deliveries, and whole rows only for
        those not excluded: the caller typically excludes thousands it already holds.
        """
        sql = f"SELECT id FROM deliveries INDEXED BY deliveries_unfinished WHERE {_OPEN}"
        args: list[Any] = []
        if due_before is not None:
            sql += " AND due_at <= ?"
            args.append(ts(due_before))
        sql += " ORDER BY due_at, id LIMIT ?"
        args.append(limit + len(exclude))

        def op(conn: sqlite3.Connection) -> list[Delivery]:
            wanted = [r[0] for r in conn.execute(sql, args) if r[0] not in exclude][:limit]
            found: list[Delivery] = []
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ", ".join("?" for _ in chunk)
                found.extend(
                    delivery_from_row(r)
                    for r in conn.execute(
                        f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id IN ({marks})", chunk
                    )
                )
            found.sort(key=lambda d: (d.due_at, d.id))
            return found

        return await self._committer.call(op)

    async def count_unfinished(self) -> int:
        """Deliveries not final (counted on the partial index of unfinished ones)."""

        def op(conn: sqlite3.Connection) -> int:
            sql = f"SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_unfinished WHERE {_OPEN}"
            return int(conn.execute(sql).fetchone()[0])

        return await self._committer.call(op)

    async def flush_scheduled(self, now: datetime) -> int:
        """Everything scheduled becomes due."""

        def op(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "UPDATE deliveries SET due_at = ? WHERE status = ?",
                (ts(now), DeliveryStatus.SCHEDULED.value),
            )
            return cur.rowcount

        return await self._committer.call(op)

    async def reopen_delivery(self, delivery: Delivery) -> None:
        """Rewrite the delivery's row (attempts are kept)."""
        row = delivery_row(delivery)

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE deliveries SET status = ?, due_at = ?, finished_at = ?, error = ?,"
                " spec = ? WHERE id = ?",
                (row[8], row[10], row[11], row[13], row[15], delivery.id),
            )

        await self._committer.call(op)

    async def release_delivery(self, delivery: Delivery) -> None:
        """Rewrite what a waiting delivery becomes (attempts are kept)."""
        row = delivery_row(delivery)

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE deliveries SET status = ?, due_at = ?, finished_at = ?, error = ?,"
                " target = ?, body = ?, spec = ? WHERE id = ?",
                (row[8], row[10], row[11], row[13], row[7], row[14], row[15], delivery.id),
            )

        await self._committer.call(op)
