"""The SQLite Store's whole-store operations: the snapshot of a backup, restore, and cleanup.

A mixin of ``SqliteStore``; each method is one function run by the committer, so a snapshot is
consistent and a restore or purge is one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from mockback.domain.deliveries import Delivery, DeliveryStatus
from mockback.store.account_rows import (
    MEMBERSHIP_COLUMNS,
    NAMESPACE_COLUMNS,
    TOKEN_COLUMNS,
    USER_COLUMNS,
    WEBHOOK_COLUMNS,
    membership_from_row,
    membership_row,
    namespace_from_row,
    namespace_row,
    token_from_row,
    token_row,
    user_from_row,
    user_row,
    webhook_from_row,
    webhook_row,
)
from mockback.store.base import MockRecord, PurgeCounts, Snapshot
from mockback.store.rows import delivery_row, dt, ts
from mockback.store.sqlite_accounts import MOCK_COLUMNS, insert_outbox, mock_from_row

if TYPE_CHECKING:
    from mockback.store.committer import Committer

_FINAL = tuple(s.value for s in DeliveryStatus if s.is_final)


def _mock_row(r: MockRecord) -> tuple[Any, ...]:
    return (
        r.id,
        r.namespace,
        orjson.dumps(dict(r.document)).decode(),
        ts(r.created_at),
        ts(r.updated_at),
        ts(r.deleted_at),
        r.seq,
    )


class SqliteMaintenance:
    """Snapshot, restore and purge over every table a backup holds."""

    if TYPE_CHECKING:
        _committer: Committer

    async def snapshot(self) -> Snapshot:
        """Every table a backup holds, read in one transaction."""

        def op(conn: sqlite3.Connection) -> Snapshot:
            values: dict[tuple[str, str], dict[str, Any]] = {}
            for scope, owner, key, value in conn.execute(
                "SELECT scope, owner, key, value FROM store_values ORDER BY scope, owner, key"
            ):
                values.setdefault((scope, owner), {})[key] = orjson.loads(value)

            def all_of(table: str, columns: str, order: str) -> list[tuple[Any, ...]]:
                return conn.execute(f"SELECT {columns} FROM {table} ORDER BY {order}").fetchall()

            return Snapshot(
                namespaces=tuple(
                    namespace_from_row(r) for r in all_of("namespaces", NAMESPACE_COLUMNS, "name")
                ),
                mocks=tuple(mock_from_row(r) for r in all_of("mocks", MOCK_COLUMNS, "seq")),
                values=values,
                webhooks=tuple(
                    webhook_from_row(r)
                    for r in all_of("change_webhooks", WEBHOOK_COLUMNS, "created_at, id")
                ),
                users=tuple(
                    user_from_row(r) for r in all_of("users", USER_COLUMNS, "created_at, id")
                ),
                tokens=tuple(
                    token_from_row(r) for r in all_of("api_tokens", TOKEN_COLUMNS, "created_at, id")
                ),
                memberships=tuple(
                    membership_from_row(r)
                    for r in all_of("memberships", MEMBERSHIP_COLUMNS, "namespace, user_id")
                ),
            )

        return await self._committer.call(op)

    async def restore_snapshot(
        self, snapshot: Snapshot, *, outbox: Sequence[Delivery] = ()
    ) -> None:
        """Empty the tables a backup holds and fill them from the snapshot, in one transaction."""
        rows = [delivery_row(d) for d in outbox]
        inserts: list[tuple[str, str, list[tuple[Any, ...]]]] = [
            ("namespaces", NAMESPACE_COLUMNS, [namespace_row(n) for n in snapshot.namespaces]),
            ("mocks", MOCK_COLUMNS, [_mock_row(r) for r in snapshot.mocks]),
            (
                "store_values",
                "scope, owner, key, value",
                [
                    (scope, owner, key, orjson.dumps(value).decode())
                    for (scope, owner), store in snapshot.values.items()
                    for key, value in store.items()
                ],
            ),
            ("change_webhooks", WEBHOOK_COLUMNS, [webhook_row(w) for w in snapshot.webhooks]),
            ("users", USER_COLUMNS, [user_row(u) for u in snapshot.users]),
            ("api_tokens", TOKEN_COLUMNS, [token_row(t) for t in snapshot.tokens]),
            ("memberships", MEMBERSHIP_COLUMNS, [membership_row(m) for m in snapshot.memberships]),
        ]

        def op(conn: sqlite3.Connection) -> None:
            for table, columns, values in inserts:
                conn.execute(f"DELETE FROM {table}")
                marks = ", ".join("?" for _ in columns.split(","))
                conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
            insert_outbox(conn, rows)

        await self._committer.call(op)

    async def purge(self, before: datetime, now: datetime) -> PurgeCounts:
        """Drop old soft-deleted mocks, old final deliveries and their attempts, expired tokens."""
        final_marks = ", ".join("?" for _ in _FINAL)
        old_deliveries = (
            f"SELECT id FROM deliveries WHERE status IN ({final_marks})"
            " AND finished_at IS NOT NULL AND finished_at < ?"
        )
        delivery_args = [*_FINAL, ts(before)]

        def op(conn: sqlite3.Connection) -> PurgeCounts:
            gone = [
                mock_id
                for mock_id, deleted in conn.execute(
                    "SELECT id, deleted_at FROM mocks WHERE deleted_at IS NOT NULL"
                )
                if (when := dt(deleted)) is not None and when < before
            ]
            for mock_id in gone:
                conn.execute("DELETE FROM mocks WHERE id = ?", (mock_id,))
                conn.execute(
                    "DELETE FROM store_values WHERE (scope = 'mock' AND owner = ?)"
                    " OR (scope = 'chain' AND owner = ?)",
                    (mock_id, f"mock:{mock_id}"),
                )
            attempts = conn.execute(
                f"DELETE FROM attempts WHERE delivery_id IN ({old_deliveries})", delivery_args
            ).rowcount
            deliveries = conn.execute(
                f"DELETE FROM deliveries WHERE id IN ({old_deliveries})", delivery_args
            ).rowcount
            tokens = conn.execute(
                "DELETE FROM api_tokens WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (ts(now),),
            ).rowcount
            return PurgeCounts(
                mocks=len(gone), deliveries=deliveries, attempts=attempts, tokens=tokens
            )

        return await self._committer.call(op)
