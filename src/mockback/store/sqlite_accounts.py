"""The SQLite Store's namespaces, users, memberships, tokens and change webhooks.

A mixin of ``SqliteStore``: every method is one function run by the committer on the writer
thread, so it is one transaction, and the change's deliveries (``outbox``) are inserted inside
it. ``ACCOUNTS_SCHEMA`` is created when the connection opens.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from mockback.domain.accounts import (
    ApiToken,
    ChangeWebhook,
    Membership,
    Namespace,
    User,
    WebhookScope,
)
from mockback.domain.deliveries import Delivery
from mockback.store.account_rows import (
    MEMBERSHIP_COLUMNS,
    NAMESPACE_COLUMNS,
    TOKEN_COLUMNS,
    USER_COLUMNS,
    WEBHOOK_COLUMNS,
    chain_key,
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
from mockback.store.base import MockRecord
from mockback.store.rows import DELIVERY_COLUMNS, delivery_row, dt, ts

if TYPE_CHECKING:
    from mockback.store.committer import Committer

ACCOUNTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    namespace TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (namespace, user_id)
);
CREATE INDEX IF NOT EXISTS memberships_user ON memberships (user_id);
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX IF NOT EXISTS api_tokens_user ON api_tokens (user_id);
CREATE TABLE IF NOT EXISTS change_webhooks (
    scope TEXT NOT NULL,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (scope, namespace, id)
);
"""


def insert_outbox(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert delivery rows (``rows.delivery_row``) in the caller's transaction."""
    if rows:
        marks = ", ".join("?" for _ in range(16))
        conn.executemany(f"INSERT INTO deliveries ({DELIVERY_COLUMNS}) VALUES ({marks})", rows)


MOCK_COLUMNS = "id, namespace, document, created_at, updated_at, deleted_at, seq"


def mock_from_row(row: tuple[Any, ...]) -> MockRecord:
    """A MockRecord from MOCK_COLUMNS values."""
    created, updated = dt(row[3]), dt(row[4])
    assert created is not None and updated is not None
    return MockRecord(
        id=row[0],
        namespace=row[1],
        document=orjson.loads(row[2]),
        created_at=created,
        updated_at=updated,
        deleted_at=dt(row[5]),
        seq=row[6],
    )


class SqliteAccounts:
    """Tables for accounts, namespaces and change webhooks."""

    if TYPE_CHECKING:
        _committer: Committer

    # ---- namespaces

    async def get_namespace(self, name: str) -> Namespace | None:
        """By name."""

        def op(conn: sqlite3.Connection) -> Namespace | None:
            row = conn.execute(
                f"SELECT {NAMESPACE_COLUMNS} FROM namespaces WHERE name = ?", (name,)
            ).fetchone()
            return None if row is None else namespace_from_row(row)

        return await self._committer.call(op)

    async def list_namespaces(self) -> list[Namespace]:
        """By name."""

        def op(conn: sqlite3.Connection) -> list[Namespace]:
            sql = f"SELECT {NAMESPACE_COLUMNS} FROM namespaces ORDER BY name"
            return [namespace_from_row(r) for r in conn.execute(sql)]

        return await self._committer.call(op)

    async def insert_namespace(
        self, namespace: Namespace, *, outbox: Sequence[Delivery] = ()
    ) -> bool:
        """Create unless the name is taken."""
        row, rows = namespace_row(namespace), [delivery_row(d) for d in outbox]

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                f"INSERT OR IGNORE INTO namespaces ({NAMESPACE_COLUMNS}) VALUES (?, ?, ?)", row
            )
            if cur.rowcount == 0:
                return False
            insert_outbox(conn, rows)
            return True

        return await self._committer.call(op)

    async def update_namespace(
        self, namespace: Namespace, *, outbox: Sequence[Delivery] = ()
    ) -> bool:
        """Rewrite the description."""
        rows = [delivery_row(d) for d in outbox]

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE namespaces SET description = ? WHERE name = ?",
                (namespace.description, namespace.name),
            )
            if cur.rowcount == 0:
                return False
            insert_outbox(conn, rows)
            return True

        return await self._committer.call(op)

    async def delete_namespace(
        self, name: str, now: datetime, *, outbox: Sequence[Delivery] = ()
    ) -> list[MockRecord] | None:
        """Remove with members and webhooks; soft-delete its active mocks."""
        rows, at = [delivery_row(d) for d in outbox], ts(now)

        def op(conn: sqlite3.Connection) -> list[MockRecord] | None:
            cur = conn.execute("DELETE FROM namespaces WHERE name = ?", (name,))
            if cur.rowcount == 0:
                return None
            conn.execute("DELETE FROM memberships WHERE namespace = ?", (name,))
            conn.execute(
                "DELETE FROM change_webhooks WHERE scope = ? AND namespace = ?",
                (WebhookScope.NAMESPACE.value, name),
            )
            active = conn.execute(
                f"SELECT {MOCK_COLUMNS} FROM mocks WHERE namespace = ? AND deleted_at IS NULL"
                " ORDER BY seq",
                (name,),
            ).fetchall()
            conn.execute(
                "UPDATE mocks SET deleted_at = ?, updated_at = ?"
                " WHERE namespace = ? AND deleted_at IS NULL",
                (at, at, name),
            )
            insert_outbox(conn, rows)
            return [replace(mock_from_row(r), deleted_at=now, updated_at=now) for r in active]

        return await self._committer.call(op)

    async def chain_namespaces(self, chain_id: str) -> set[str]:
        """Namespaces of mocks using this chain store."""

        def op(conn: sqlite3.Connection) -> set[str]:
            if chain_id.startswith("mock:"):
                rows = conn.execute(
                    "SELECT namespace, id, document FROM mocks WHERE id = ?",
                    (chain_id.removeprefix("mock:"),),
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT namespace, id, document FROM mocks"
                    " WHERE json_extract(document, '$.chainId') = ?",
                    (chain_id,),
                ).fetchall()
            return {
                ns for ns, mock_id, doc in rows if chain_key(orjson.loads(doc), mock_id) == chain_id
            }

        return await self._committer.call(op)

    # ---- members

    async def put_membership(
        self, membership: Membership, *, outbox: Sequence[Delivery] = ()
    ) -> Membership | None:
        """Add or change; the previous one."""
        row, rows = membership_row(membership), [delivery_row(d) for d in outbox]

        def op(conn: sqlite3.Connection) -> Membership | None:
            old = conn.execute(
                f"SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE namespace = ? AND user_id = ?",
                row[:2],
            ).fetchone()
            conn.execute(
                f"INSERT OR REPLACE INTO memberships ({MEMBERSHIP_COLUMNS}) VALUES (?, ?, ?)", row
            )
            insert_outbox(conn, rows)
            return None if old is None else membership_from_row(old)

        return await self._committer.call(op)

    async def delete_membership(self, namespace: str, user_id: str) -> bool:
        """Remove."""

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM memberships WHERE namespace = ? AND user_id = ?", (namespace, user_id)
            )
            return cur.rowcount > 0

        return await self._committer.call(op)

    async def list_memberships(
        self, *, namespace: str | None = None, user_id: str | None = None
    ) -> list[Membership]:
        """Filtered, by namespace then user."""
        sql = f"SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE 1 = 1"
        args: list[Any] = []
        if namespace is not None:
            sql += " AND namespace = ?"
            args.append(namespace)
        if user_id is not None:
            sql += " AND user_id = ?"
            args.append(user_id)
        sql += " ORDER BY namespace, user_id"

        def op(conn: sqlite3.Connection) -> list[Membership]:
            return [membership_from_row(r) for r in conn.execute(sql, args)]

        return await self._committer.call(op)

    # ---- users and tokens

    async def insert_user(self, user: User, *, outbox: Sequence[Delivery] = ()) -> bool:
        """Create unless the login (or id) is taken."""
        row, rows = user_row(user), [delivery_row(d) for d in outbox]

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                f"INSERT OR IGNORE INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?)", row
            )
            if cur.rowcount == 0:
                return False
            insert_outbox(conn, rows)
            return True

        return await self._committer.call(op)

    async def update_user(self, user: User, *, outbox: Sequence[Delivery] = ()) -> bool:
        """Rewrite login, role and password hash."""
        rows = [delivery_row(d) for d in outbox]

        def op(conn: sqlite3.Connection) -> bool:
            taken = conn.execute(
                "SELECT 1 FROM users WHERE login = ? AND id != ?", (user.login, user.id)
            ).fetchone()
            if taken is not None:
                return False
            cur = conn.execute(
                "UPDATE users SET login = ?, role = ?, password_hash = ? WHERE id = ?",
                (user.login, user.role.value, user.password_hash, user.id),
            )
            if cur.rowcount == 0:
                return False
            insert_outbox(conn, rows)
            return True

        return await self._committer.call(op)

    async def delete_user(self, user_id: str, *, outbox: Sequence[Delivery] = ()) -> bool:
        """Remove with memberships and tokens."""
        rows = [delivery_row(d) for d in outbox]

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
            if cur.rowcount == 0:
                return False
            conn.execute("DELETE FROM memberships WHERE user_id = ?", (user_id,))
            conn.execute("DELETE FROM api_tokens WHERE user_id = ?", (user_id,))
            insert_outbox(conn, rows)
            return True

        return await self._committer.call(op)

    async def _one_user(self, where: str, arg: str) -> User | None:
        def op(conn: sqlite3.Connection) -> User | None:
            row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE {where} = ?", (arg,))
            found = row.fetchone()
            return None if found is None else user_from_row(found)

        return await self._committer.call(op)

    async def get_user(self, user_id: str) -> User | None:
        """By id."""
        return await self._one_user("id", user_id)

    async def get_user_by_login(self, login: str) -> User | None:
        """By login."""
        return await self._one_user("login", login)

    async def list_users(self) -> list[User]:
        """Oldest first."""

        def op(conn: sqlite3.Connection) -> list[User]:
            sql = f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id"
            return [user_from_row(r) for r in conn.execute(sql)]

        return await self._committer.call(op)

    async def insert_token(self, token: ApiToken) -> None:
        """Keep (the hash only)."""
        row = token_row(token)

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(f"INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", row)

        await self._committer.call(op)

    async def get_token(self, token_hash: str) -> ApiToken | None:
        """By hash."""

        def op(conn: sqlite3.Connection) -> ApiToken | None:
            row = conn.execute(
                f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            return None if row is None else token_from_row(row)

        return await self._committer.call(op)

    async def list_tokens(self, user_id: str) -> list[ApiToken]:
        """A user's, oldest first."""

        def op(conn: sqlite3.Connection) -> list[ApiToken]:
            sql = (
                f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ? ORDER BY created_at, id"
            )
            return [token_from_row(r) for r in conn.execute(sql, (user_id,))]

        return await self._committer.call(op)

    async def delete_token(self, token_id: str) -> bool:
        """Revoke."""

        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,)).rowcount > 0

        return await self._committer.call(op)

    # ---- change webhooks

    async def put_change_webhook(self, webhook: ChangeWebhook) -> ChangeWebhook | None:
        """Create or replace; the previous one."""
        row = webhook_row(webhook)

        def op(conn: sqlite3.Connection) -> ChangeWebhook | None:
            old = conn.execute(
                f"SELECT {WEBHOOK_COLUMNS} FROM change_webhooks"
                " WHERE scope = ? AND namespace = ? AND id = ?",
                row[:3],
            ).fetchone()
            conn.execute(
                f"INSERT OR REPLACE INTO change_webhooks ({WEBHOOK_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
            return None if old is None else webhook_from_row(old)

        return await self._committer.call(op)

    async def delete_change_webhook(
        self, scope: WebhookScope, namespace: str | None, webhook_id: str
    ) -> bool:
        """Remove."""
        key = (scope.value, namespace or "", webhook_id)

        def op(conn: sqlite3.Connection) -> bool:
            sql = "DELETE FROM change_webhooks WHERE scope = ? AND namespace = ? AND id = ?"
            return conn.execute(sql, key).rowcount > 0

        return await self._committer.call(op)

    async def list_change_webhooks(self) -> list[ChangeWebhook]:
        """Oldest first."""

        def op(conn: sqlite3.Connection) -> list[ChangeWebhook]:
            sql = f"SELECT {WEBHOOK_COLUMNS} FROM change_webhooks ORDER BY created_at, id"
            return [webhook_from_row(r) for r in conn.execute(sql)]

        return await self._committer.call(op)
