"""The backup file: a Snapshot as one JSON document, and back (the one place for that shape).

A backup holds namespaces, mocks (soft-deleted ones too), store values, change webhooks (their
secrets in clear), users with their password hashes, token hashes and memberships. Deliveries
and request logs are not part of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mockback.domain.accounts import (
    ApiToken,
    Membership,
    Namespace,
    NamespaceRole,
    Role,
    User,
    WebhookScope,
)
from mockback.domain.errors import FieldProblem, ValidationFailed
from mockback.store.account_rows import webhook_document, webhook_from_document
from mockback.store.base import MockRecord, Snapshot

FORMAT = "mockback-backup"
VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return parsed


def _maybe_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)


def counts(snapshot: Snapshot) -> dict[str, int]:
    """How many of each thing a snapshot holds."""
    return {
        "namespaces": len(snapshot.namespaces),
        "mocks": len(snapshot.mocks),
        "stores": len(snapshot.values),
        "webhooks": len(snapshot.webhooks),
        "users": len(snapshot.users),
        "tokens": len(snapshot.tokens),
        "memberships": len(snapshot.memberships),
    }


def to_json(snapshot: Snapshot, *, backup_id: str, created_at: datetime) -> dict[str, Any]:
    """The backup document of a snapshot."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "id": backup_id,
        "createdAt": _iso(created_at),
        "counts": counts(snapshot),
        "namespaces": [
            {"name": n.name, "description": n.description, "createdAt": _iso(n.created_at)}
            for n in snapshot.namespaces
        ],
        "mocks": [
            {
                "id": r.id,
                "namespace": r.namespace,
                "document": dict(r.document),
                "createdAt": _iso(r.created_at),
                "updatedAt": _iso(r.updated_at),
                "deletedAt": _iso(r.deleted_at),
                "seq": r.seq,
            }
            for r in snapshot.mocks
        ],
        "stores": [
            {"scope": scope, "owner": owner, "values": dict(values)}
            for (scope, owner), values in snapshot.values.items()
        ],
        "webhooks": [
            {
                "scope": w.scope.value,
                "namespace": w.namespace,
                "webhook": webhook_document(w),
                "createdAt": _iso(w.created_at),
                "updatedAt": _iso(w.updated_at),
            }
            for w in snapshot.webhooks
        ],
        "users": [
            {
                "id": u.id,
                "login": u.login,
                "role": u.role.value,
                "passwordHash": u.password_hash,
                "createdAt": _iso(u.created_at),
            }
            for u in snapshot.users
        ],
        "tokens": [
            {
                "id": t.id,
                "userId": t.user_id,
                "name": t.name,
                "tokenHash": t.token_hash,
                "createdAt": _iso(t.created_at),
                "expiresAt": _iso(t.expires_at),
            }
            for t in snapshot.tokens
        ],
        "memberships": [
            {"namespace": m.namespace, "userId": m.user_id, "role": m.role.value}
            for m in snapshot.memberships
        ],
    }


def from_json(doc: Any) -> Snapshot:
    """A snapshot from a backup document; ValidationFailed names what is wrong."""
    if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
        raise _unreadable("", f'is not a Mockback backup (no "format": "{FORMAT}")')
    if doc.get("version") != VERSION:
        raise _unreadable("version", f"is {doc.get('version')!r}; this server reads {VERSION}")
    section = ""
    try:
        section = "namespaces"
        namespaces = tuple(
            Namespace(
                name=str(n["name"]),
                description=str(n.get("description", "")),
                created_at=_time(n["createdAt"]),
            )
            for n in doc.get("namespaces", [])
        )
        section = "mocks"
        mocks = tuple(
            MockRecord(
                id=str(m["id"]),
                namespace=str(m["namespace"]),
                document=dict(m["document"]),
                created_at=_time(m["createdAt"]),
                updated_at=_time(m["updatedAt"]),
                deleted_at=_maybe_time(m.get("deletedAt")),
                seq=int(m["seq"]),
            )
            for m in doc.get("mocks", [])
        )
        section = "stores"
        values = {
            (str(s["scope"]), str(s["owner"])): dict(s["values"]) for s in doc.get("stores", [])
        }
        section = "webhooks"
        webhooks = tuple(
            webhook_from_document(
                w["webhook"],
                scope=WebhookScope(w["scope"]),
                namespace=w.get("namespace"),
                created_at=_time(w["createdAt"]),
                updated_at=_time(w["updatedAt"]),
            )
            for w in doc.get("webhooks", [])
        )
        section = "users"
        users = tuple(
            User(
                id=str(u["id"]),
                login=str(u["login"]),
                role=Role(u["role"]),
                password_hash=str(u["passwordHash"]),
                created_at=_time(u["createdAt"]),
            )
            for u in doc.get("users", [])
        )
        section = "tokens"
        tokens = tuple(
            ApiToken(
                id=str(t["id"]),
                user_id=str(t["userId"]),
                name=str(t["name"]),
                token_hash=str(t["tokenHash"]),
                created_at=_time(t["createdAt"]),
                expires_at=_maybe_time(t.get("expiresAt")),
            )
            for t in doc.get("tokens", [])
        )
        section = "memberships"
        memberships = tuple(
            Membership(
                namespace=str(m["namespace"]),
                user_id=str(m["userId"]),
                role=NamespaceRole(m["role"]),
            )
            for m in doc.get("memberships", [])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _unreadable(section, f"is malformed: {exc!r}") from None
    return Snapshot(
        namespaces=namespaces,
        mocks=mocks,
        values=values,
        webhooks=webhooks,
        users=users,
        tokens=tokens,
        memberships=memberships,
    )


def _unreadable(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(
        f"The backup cannot be read: {field or 'the document'} {problem}.",
        (FieldProblem(field=field, problem=problem),),
    )
