"""Namespaces, users, memberships, API tokens and change webhooks as pure values."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Role(enum.Enum):
    """A user's role on the whole server."""

    ADMIN = "admin"  # everything, every namespace
    USER = "user"  # only the namespaces they are a member of


class NamespaceRole(enum.Enum):
    """A member's role in one namespace."""

    OWNER = "owner"  # everything in the namespace, including members and webhooks
    EDITOR = "editor"  # create, change and delete mocks and stores
    VIEWER = "viewer"  # read only

    @property
    def can_write(self) -> bool:
        """Whether the role may change mocks and stores."""
        return self is not NamespaceRole.VIEWER

    @property
    def can_manage(self) -> bool:
        """Whether the role may change members and namespace webhooks."""
        return self is NamespaceRole.OWNER


@dataclass(frozen=True, slots=True, kw_only=True)
class Namespace:
    """A space of mocks, stores and webhooks."""

    name: str  # unique; served under /stubs/{name}
    description: str = ""  # free text
    created_at: datetime  # when it was created


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """Someone who may call the admin API."""

    id: str  # usr_...
    login: str  # unique
    role: Role  # admin or user
    password_hash: str = field(repr=False)  # scrypt, never returned
    created_at: datetime  # when it was created


@dataclass(frozen=True, slots=True, kw_only=True)
class Membership:
    """A user's role in a namespace."""

    namespace: str  # the namespace
    user_id: str  # the user
    role: NamespaceRole  # what they may do there


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    """A bearer token; only its hash is kept."""

    id: str  # tok_...
    user_id: str  # whose it is
    name: str  # a label ("login" for tokens made by POST /login)
    token_hash: str = field(repr=False)  # sha256 of the token
    created_at: datetime  # when it was made
    expires_at: datetime | None = None  # login tokens expire; API tokens do not


class WebhookScope(enum.Enum):
    """Which change webhooks a webhook listens to."""

    NAMESPACE = "namespace"  # changes inside one namespace
    ADMIN = "admin"  # server-wide changes


NAMESPACE_OPERATIONS = frozenset(
    {"mock.create", "mock.update", "mock.delete", "mock.restore", "user.add_to_namespace"}
)
ADMIN_OPERATIONS = frozenset(
    {
        "namespace.create",
        "namespace.delete",
        "namespace.update",
        "namespace.user.add",
        "user.create",
        "user.delete",
        "user.update",
        "user.password.set",
        "job.run",
        "backup.create",
        "backup.restore",
    }
)
LICENCE_OPERATIONS = frozenset(
    {"license.activate", "license.update", "license.expire", "license.delete", "license.create"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeWebhook:
    """A webhook fired by changes (SPEC §8)."""

    id: str  # create-or-update key
    scope: WebhookScope  # namespace or admin
    namespace: str | None  # the namespace (namespace scope only)
    operation: str  # e.g. mock.create; "*" for every operation of the scope
    url: str  # templated target
    method: str = "POST"  # http method
    headers: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # templated
    body: Any = None  # templated with $.event.*; None sends the default event object
    enabled: bool = True  # disabled webhooks do not fire
    retry_count: int = 0  # attempts after a failed one
    retry_delay: float = 1.0  # seconds between attempts
    timeout: float = 30.0  # seconds per attempt
    signing: Mapping[str, Any] | None = None  # scheme and secret(s)
    created_at: datetime  # first creation
    updated_at: datetime  # last change


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeEvent:
    """Something changed; change webhooks render their bodies from it."""

    operation: str  # e.g. mock.update
    namespace: str | None  # where (None for server-wide changes without one)
    actor: str  # login of who did it ("anonymous" with AUTH_MODE=off)
    timestamp: datetime  # when
    data: Any  # the entity after the change
    before: Any = None  # the entity before the change

    def as_json(self) -> dict[str, Any]:
        """The default body of a change webhook."""
        return {
            "operation": self.operation,
            "namespace": self.namespace,
            "actor": self.actor,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "data": self.data,
        }
