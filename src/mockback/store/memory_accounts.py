"""The in-memory Store's namespaces, users, tokens, change webhooks, backups and cleanup.

A mixin of ``MemoryStore``. Each method runs without yielding to the event loop between its
checks and its writes, so it is one transaction; the change's deliveries (``outbox``) are
stored in that same step, after every check passed.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mockback.domain.accounts import (
    ApiToken,
    ChangeWebhook,
    Membership,
    Namespace,
    User,
    WebhookScope,
)
from mockback.domain.deliveries import Delivery
from mockback.store.account_rows import chain_key, webhook_key
from mockback.store.base import MockRecord, PurgeCounts, Snapshot


@dataclass(slots=True)
class _Accounts:
    """The mixin's own tables."""

    namespaces: dict[str, Namespace] = field(default_factory=dict)  # by name
    users: dict[str, User] = field(default_factory=dict)  # by id
    memberships: dict[tuple[str, str], Membership] = field(default_factory=dict)  # (ns, user)
    tokens: dict[str, ApiToken] = field(default_factory=dict)  # by token hash
    webhooks: dict[tuple[str, str, str], ChangeWebhook] = field(default_factory=dict)
    """Change webhooks by (scope, namespace or "", id)."""


class MemoryAccounts:
    """Dicts for accounts, namespaces and change webhooks; snapshot, restore and purge."""

    if TYPE_CHECKING:
        _mocks: dict[str, MockRecord]
        _seq: int
        _values: dict[tuple[str, str], dict[str, Any]]
        _deliveries: dict[str, Delivery]

        async def insert_deliveries(self, deliveries: list[Delivery]) -> None: ...

        def _drop(self, d: Delivery) -> None: ...

    def _accounts(self) -> _Accounts:
        # Created on first use, so MemoryStore.__init__ needs no knowledge of these tables.
        state: _Accounts | None = getattr(self, "_accounts_state", None)
        if state is None:
            state = _Accounts()
            self._accounts_state = state
        return state

    async def _outbox(self, outbox: Sequence[Delivery]) -> None:
        if outbox:
            await self.insert_deliveries(list(outbox))

    # ---- namespaces

    async def get_namespace(self, name: str) -> Namespace | None:
        """By name."""
        return self._accounts().namespaces.get(name)

    async def list_namespaces(self) -> list[Namespace]:
        """By name."""
        return sorted(self._accounts().namespaces.values(), key=lambda n: n.name)

    async def insert_namespace(
        self, namespace: Namespace, *, outbox: Sequence[Delivery] = ()
    ) -> bool:
        """Create unless the name is taken."""
        table = self._accounts().namespaces
        if namespace.name in table:
            return False
        await self._outbox(outbox)
        table[namespace.name] = namespace
        return True

    async def update_namespace(
        self, namespace: Namespace, *, outbox: Sequence[Delivery] = ()
    ) -> bool:
        """Rewrite an existing namespace."""
        table = self._accounts().namespaces
        if namespace.name not in table:
            return False
        await self._outbox(outbox)
        table[namespace.name] = namespace
        return True

    async def delete_namespace(
        self, name: str, now: datetime, *, outbox: Sequence[Delivery] = ()
    ) -> list[MockRecord] | None:
        """Remove it with its members and webhooks; soft-delete its active mocks."""
        acc = self._accounts()
        if name not in acc.namespaces:
            return None
        await self._outbox(outbox)
        del acc.namespaces[name]
        for key in [k for k in acc.memberships if k[0] == name]:
            del acc.memberships[key]
        scope = WebhookScope.NAMESPACE.value
        for wkey in [k for k in acc.webhooks if k[0] == scope and k[1] == name]:
            del acc.webhooks[wkey]
        hidden = []
        for record in sorted(self._mocks.values(), key=lambda r: r.seq):
            if record.namespace == name and record.deleted_at is None:
                record = replace(record, deleted_at=now, updated_at=now)
                self._mocks[record.id] = record
                hidden.append(record)
        return hidden

    async def chain_namespaces(self, chain_id: str) -> set[str]:
        """Namespaces of mocks using this chain store."""
        return {
            r.namespace for r in self._mocks.values() if chain_key(r.document, r.id) == chain_id
        }

    # ---- members

    async def put_membership(
        self, membership: Membership, *, outbox: Sequence[Delivery] = ()
    ) -> Membership | None:
        """Add or change; the previous one."""
        table = self._accounts().memberships
        key = (membership.namespace, membership.user_id)
        await self._outbox(outbox)
        before = table.get(key)
        table[key] = membership
        return before

    async def delete_membership(self, namespace: str, user_id: str) -> bool:
        """Remove."""
        return self._accounts().memberships.pop((namespace, user_id), None) is not None

    async def list_memberships(
        self, *, namespace: str | None = None, user_id: str | None = None
    ) -> list[Membership]:
        """Filtered, by namespace then user."""
        return [
            m
            for key, m in sorted(self._accounts().memberships.items())
            if (namespace is None or key[0] == namespace) and (user_id is None or key[1] == user_id)
        ]

    # ---- users and tokens

    def _login_taken(self, login: str, other_than: str | None) -> bool:
        return any(u.login == login and u.id != other_than for u in self._accounts().users.values())

    async def insert_user(self, user: User, *, outbox: Sequence[Delivery] = ()) -> bool:
        """Create unless the login or id is taken."""
        users = self._accounts().users
        if user.id in users or self._login_taken(user.login, None):
            return False
        await self._outbox(outbox)
        users[user.id] = user
        return True

    async def update_user(self, user: User, *, outbox: Sequence[Delivery] = ()) -> bool:
        """Rewrite an existing user."""
        users = self._accounts().users
        if user.id not in users or self._login_taken(user.login, user.id):
            return False
        await self._outbox(outbox)
        users[user.id] = user
        return True

    async def delete_user(self, user_id: str, *, outbox: Sequence[Delivery] = ()) -> bool:
        """Remove with memberships and tokens."""
        acc = self._accounts()
        if user_id not in acc.users:
            return False
        await self._outbox(outbox)
        del acc.users[user_id]
        for key in [k for k in acc.memberships if k[1] == user_id]:
            del acc.memberships[key]
        for token_hash in [h for h, t in acc.tokens.items() if t.user_id == user_id]:
            del acc.tokens[token_hash]
        return True

    async def get_user(self, user_id: str) -> User | None:
        """By id."""
        return self._accounts().users.get(user_id)

    async def get_user_by_login(self, login: str) -> User | None:
        """By login."""
        return next((u for u in self._accounts().users.values() if u.login == login), None)

    async def list_users(self) -> list[User]:
        """Oldest first."""
        return sorted(self._accounts().users.values(), key=lambda u: (u.created_at, u.id))

    async def insert_token(self, token: ApiToken) -> None:
        """Keep by hash."""
        self._accounts().tokens[token.token_hash] = token

    async def get_token(self, token_hash: str) -> ApiToken | None:
        """By hash."""
        return self._accounts().tokens.get(token_hash)

    async def list_tokens(self, user_id: str) -> list[ApiToken]:
        """A user's, oldest first."""
        mine = [t for t in self._accounts().tokens.values() if t.user_id == user_id]
        return sorted(mine, key=lambda t: (t.created_at, t.id))

    async def delete_token(self, token_id: str) -> bool:
        """Revoke by id."""
        tokens = self._accounts().tokens
        for token_hash, t in list(tokens.items()):
            if t.id == token_id:
                del tokens[token_hash]
                return True
        return False

    # ---- change webhooks

    async def put_change_webhook(self, webhook: ChangeWebhook) -> ChangeWebhook | None:
        """Create or replace; the previous one."""
        table = self._accounts().webhooks
        key = webhook_key(webhook)
        before = table.get(key)
        table[key] = webhook
        return before

    async def delete_change_webhook(
        self, scope: WebhookScope, namespace: str | None, webhook_id: str
    ) -> bool:
        """Remove."""
        key = (scope.value, namespace or "", webhook_id)
        return self._accounts().webhooks.pop(key, None) is not None

    async def list_change_webhooks(self) -> list[ChangeWebhook]:
        """Oldest first."""
        return sorted(self._accounts().webhooks.values(), key=lambda w: (w.created_at, w.id))

    # ---- backups and cleanup

    async def snapshot(self) -> Snapshot:
        """Copies of everything a backup holds."""
        acc = self._accounts()
        return Snapshot(
            namespaces=tuple(await self.list_namespaces()),
            mocks=tuple(sorted(self._mocks.values(), key=lambda r: r.seq)),
            values=copy.deepcopy(self._values),
            webhooks=tuple(await self.list_change_webhooks()),
            users=tuple(await self.list_users()),
            tokens=tuple(sorted(acc.tokens.values(), key=lambda t: (t.created_at, t.id))),
            memberships=tuple(await self.list_memberships()),
        )

    async def restore_snapshot(
        self, snapshot: Snapshot, *, outbox: Sequence[Delivery] = ()
    ) -> None:
        """Replace everything at once."""
        await self._outbox(outbox)
        self._mocks = {r.id: r for r in snapshot.mocks}
        self._seq = max((r.seq for r in snapshot.mocks), default=0)
        self._values = {k: copy.deepcopy(dict(v)) for k, v in snapshot.values.items()}
        self._accounts_state = _Accounts(
            namespaces={n.name: n for n in snapshot.namespaces},
            users={u.id: u for u in snapshot.users},
            memberships={(m.namespace, m.user_id): m for m in snapshot.memberships},
            tokens={t.token_hash: t for t in snapshot.tokens},
            webhooks={webhook_key(w): w for w in snapshot.webhooks},
        )

    async def purge(self, before: datetime, now: datetime) -> PurgeCounts:
        """Drop old soft-deleted mocks, old final deliveries, expired tokens."""
        gone = [
            r for r in self._mocks.values() if r.deleted_at is not None and r.deleted_at < before
        ]
        for r in gone:
            del self._mocks[r.id]
            self._values.pop(("mock", r.id), None)
            self._values.pop(("chain", f"mock:{r.id}"), None)
        old = [
            d
            for d in self._deliveries.values()
            if d.status.is_final and d.finished_at is not None and d.finished_at < before
        ]
        for d in old:
            self._drop(d)
        tokens = self._accounts().tokens
        expired = [h for h, t in tokens.items() if t.expires_at is not None and t.expires_at <= now]
        for h in expired:
            del tokens[h]
        return PurgeCounts(
            mocks=len(gone),
            deliveries=len(old),
            attempts=sum(len(d.attempts) for d in old),
            tokens=len(expired),
        )
