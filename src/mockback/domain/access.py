"""Who is calling and what they may do: principals, needs, and the two refusals.

Two errors join the tree of ``mockback.domain.errors`` here::

    MockbackError
    ├── Unauthorized    no valid credentials (401)
    └── Forbidden       known caller, but the role does not allow it (403)

A caller who is not a member of a namespace is told that the object does not exist (404), the
same answer as for an object that really does not exist, so namespaces do not leak.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from mockback.domain.accounts import NamespaceRole, Role
from mockback.domain.errors import FieldProblem, MockbackError, NotFound

_NO_MEMBERSHIPS: Mapping[str, NamespaceRole] = MappingProxyType({})


class Unauthorized(MockbackError):
    """The request carries no valid credentials."""

    status_code = 401


class Forbidden(MockbackError):
    """The caller is known but may not do this."""

    status_code = 403


class Need(enum.Enum):
    """What an operation needs of the caller's role in a namespace."""

    READ = "read"  # any member (viewer, editor, owner)
    WRITE = "write"  # editor or owner: mocks and stores
    MANAGE = "manage"  # owner: members, namespace webhooks, the namespace itself


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """The caller of an admin operation."""

    login: str  # shown as the actor of change events
    role: Role  # admin or user
    user_id: str | None = None  # None for the anonymous and system callers
    memberships: Mapping[str, NamespaceRole] = field(default_factory=lambda: _NO_MEMBERSHIPS)
    """The caller's role in each namespace they belong to (admins need none)."""
    token_id: str | None = None  # the token the request came with

    @property
    def is_admin(self) -> bool:
        """Whether the caller may do everything."""
        return self.role is Role.ADMIN

    def role_in(self, namespace: str) -> NamespaceRole | None:
        """The caller's role in a namespace (admins are owners everywhere); None: not a member."""
        if self.is_admin:
            return NamespaceRole.OWNER
        return self.memberships.get(namespace)

    def can(self, need: Need, namespace: str) -> bool:
        """Whether the caller's role in the namespace meets the need."""
        role = self.role_in(namespace)
        if role is None:
            return False
        if need is Need.READ:
            return True
        if need is Need.WRITE:
            return role.can_write
        return role.can_manage

    def visible(self, namespaces: set[str] | frozenset[str]) -> set[str]:
        """The subset of these namespaces the caller can read."""
        if self.is_admin:
            return set(namespaces)
        return {ns for ns in namespaces if ns in self.memberships}


ANONYMOUS = Principal(login="anonymous", role=Role.ADMIN)
"""Every caller when AUTH_MODE=off: the admin API is open."""

ADMIN_DELIVERIES = "@admin"
"""The namespace recorded on deliveries of admin webhooks: no real namespace has this name, so
only admins see them."""

SYSTEM = Principal(login="system", role=Role.ADMIN)
"""The server itself: mock files at start, scheduled jobs, the first admin."""


def require(
    caller: Principal, need: Need, namespace: str, not_found: Callable[[], NotFound]
) -> None:
    """Raise ``not_found()`` when the namespace is not the caller's, Forbidden when the role is short."""
    role = caller.role_in(namespace)
    if role is None:
        raise not_found()
    if not caller.can(need, namespace):
        raise Forbidden(
            f'Your role in namespace "{namespace}" is {role.value}; this needs {_NEEDED[need]}.'
        )


_NEEDED = {
    Need.READ: "membership",
    Need.WRITE: "the editor or owner role",
    Need.MANAGE: "the owner role",
}


def require_admin(caller: Principal, what: str) -> None:
    """Raise Forbidden unless the caller is an admin."""
    if not caller.is_admin:
        raise Forbidden(f"{what} is for admins only.")


def no_namespace(namespace: str) -> Callable[[], NotFound]:
    """The not-found error of a namespace, for ``require``."""
    return lambda: NotFound(
        f'No namespace "{namespace}".',
        (FieldProblem(field="namespace", problem="does not exist"),),
    )
