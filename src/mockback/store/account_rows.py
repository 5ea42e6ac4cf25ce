"""Namespaces, users, memberships, tokens and change webhooks as table rows and documents.

The one place that converts these values to and from what is stored: SQLite rows, and the
JSON document of a change webhook (also the shape kept in backups).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import orjson

from mockback.domain.accounts import (
    ApiToken,
    ChangeWebhook,
    Membership,
    Namespace,
    NamespaceRole,
    Role,
    User,
    WebhookScope,
)
from mockback.store.rows import dt, ts

NAMESPACE_COLUMNS = "name, description, created_at"
USER_COLUMNS = "id, login, role, password_hash, created_at"
MEMBERSHIP_COLUMNS = "namespace, user_id, role"
TOKEN_COLUMNS = "id, user_id, name, token_hash, created_at, expires_at"
WEBHOOK_COLUMNS = "scope, namespace, id, document, created_at, updated_at"


def _required(value: str | None) -> datetime:
    parsed = dt(value)
    assert parsed is not None
    return parsed


def namespace_row(ns: Namespace) -> tuple[Any, ...]:
    """Values for NAMESPACE_COLUMNS."""
    return (ns.name, ns.description, ts(ns.created_at))


def namespace_from_row(row: tuple[Any, ...]) -> Namespace:
    """A Namespace from NAMESPACE_COLUMNS values."""
    return Namespace(name=row[0], description=row[1], created_at=_required(row[2]))


def user_row(user: User) -> tuple[Any, ...]:
    """Values for USER_COLUMNS."""
    return (user.id, user.login, user.role.value, user.password_hash, ts(user.created_at))


def user_from_row(row: tuple[Any, ...]) -> User:
    """A User from USER_COLUMNS values."""
    return User(
        id=row[0],
        login=row[1],
        role=Role(row[2]),
        password_hash=row[3],
        created_at=_required(row[4]),
    )


def membership_row(m: Membership) -> tuple[Any, ...]:
    """Values for MEMBERSHIP_COLUMNS."""
    return (m.namespace, m.user_id, m.role.value)


def membership_from_row(row: tuple[Any, ...]) -> Membership:
    """A Membership from MEMBERSHIP_COLUMNS values."""
    return Membership(namespace=row[0], user_id=row[1], role=NamespaceRole(row[2]))


def token_row(t: ApiToken) -> tuple[Any, ...]:
    """Values for TOKEN_COLUMNS."""
    return (t.id, t.user_id, t.name, t.token_hash, ts(t.created_at), ts(t.expires_at))


def token_from_row(row: tuple[Any, ...]) -> ApiToken:
    """An ApiToken from TOKEN_COLUMNS values."""
    return ApiToken(
        id=row[0],
        user_id=row[1],
        name=row[2],
        token_hash=row[3],
        created_at=_required(row[4]),
        expires_at=dt(row[5]),
    )


def webhook_document(w: ChangeWebhook) -> dict[str, Any]:
    """The stored (and API) fields of a change webhook, secrets in clear."""
    return {
        "id": w.id,
        "operation": w.operation,
        "url": w.url,
        "method": w.method,
        "headers": dict(w.headers),
        "body": w.body,
        "enabled": w.enabled,
        "retryCount": w.retry_count,
        "retryDelay": w.retry_delay,
        "timeout": w.timeout,
        "signing": None if w.signing is None else dict(w.signing),
    }


def webhook_from_document(
    doc: Mapping[str, Any],
    *,
    scope: WebhookScope,
    namespace: str | None,
    created_at: datetime,
    updated_at: datetime,
) -> ChangeWebhook:
    """A ChangeWebhook from its document (see ``webhook_document``) and bookkeeping."""
    signing = doc.get("signing")
    return ChangeWebhook(
        id=str(doc["id"]),
        scope=scope,
        namespace=namespace,
        operation=str(doc["operation"]),
        url=str(doc["url"]),
        method=str(doc.get("method", "POST")),
        headers=MappingProxyType(dict(doc.get("headers") or {})),
        body=doc.get("body"),
        enabled=bool(doc.get("enabled", True)),
        retry_count=int(doc.get("retryCount", 0)),
        retry_delay=float(doc.get("retryDelay", 1.0)),
        timeout=float(doc.get("timeout", 30.0)),
        signing=None if signing is None else MappingProxyType(dict(signing)),
        created_at=created_at,
        updated_at=updated_at,
    )


def webhook_row(w: ChangeWebhook) -> tuple[Any, ...]:
    """Values for WEBHOOK_COLUMNS (an admin webhook's namespace is stored as "")."""
    return (
        w.scope.value,
        w.namespace or "",
        w.id,
        orjson.dumps(webhook_document(w)).decode(),
        ts(w.created_at),
        ts(w.updated_at),
    )


def webhook_from_row(row: tuple[Any, ...]) -> ChangeWebhook:
    """A ChangeWebhook from WEBHOOK_COLUMNS values."""
    scope = WebhookScope(row[0])
    return webhook_from_document(
        orjson.loads(row[3]),
        scope=scope,
        namespace=row[1] if scope is WebhookScope.NAMESPACE else None,
        created_at=_required(row[4]),
        updated_at=_required(row[5]),
    )


def webhook_key(w: ChangeWebhook) -> tuple[str, str, str]:
    """The identity of a change webhook: (scope, namespace or "", id)."""
    return (w.scope.value, w.namespace or "", w.id)


def chain_key(document: Mapping[str, Any], mock_id: str) -> str:
    """The chain store a mock uses: its chainId, or a chain of its own."""
    chain = document.get("chainId")
    return str(chain) if chain else f"mock:{mock_id}"
