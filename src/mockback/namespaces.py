"""Namespaces and their members (SPEC §9), as a plain service.

Only admins create and delete namespaces (a mock naming a namespace that does not exist
creates it, when an admin saves it). Owners change the description and the members. Deleting a
namespace removes its members and its namespace webhooks and soft-deletes its mocks: they stop
being served, stay listed with ``includeDeleted=true`` until the cleanup job purges them, and
restoring one (an admin) creates the namespace again. The default namespace ``sandbox`` always
exists and cannot be deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from mockback.catalog import Catalog
from mockback.domain.access import (
    Need,
    Principal,
    no_namespace,
    require,
    require_admin,
)
from mockback.domain.accounts import ChangeEvent, Membership, Namespace, NamespaceRole
from mockback.domain.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from mockback.domain.mocks import DEFAULT_NAMESPACE
from mockback.notifications import Notifications
from mockback.schema.bodies import Body, validate
from mockback.store.base import MockQuery, Store

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def namespace_view(ns: Namespace) -> dict[str, Any]:
    """The API shape of a namespace."""
    return {
        "name": ns.name,
        "description": ns.description,
        "createdAt": ns.created_at.isoformat().replace("+00:00", "Z"),
    }


class NamespaceIn(Body):
    """Body of POST /api/v1/namespaces."""

    name: str = Field(pattern=_NAME)
    description: str = Field(default="", max_length=10_000)


class NamespacePatch(Body):
    """Body of PATCH /api/v1/namespaces/{ns}."""

    description: str | None = Field(default=None, max_length=10_000)


class MemberIn(Body):
    """Body of POST /api/v1/namespaces/{ns}/users: a user (by id or login) and a role."""

    userId: str | None = None
    login: str | None = None
    role: NamespaceRole = NamespaceRole.VIEWER


class Namespaces:
    """Namespaces and memberships."""

    def __init__(
        self,
        *,
        store: Store,
        notifications: Notifications,
        catalog: Catalog,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._notifications = notifications
        self._catalog = catalog
        self._clock = clock

    def _event(
        self, operation: str, caller: Principal, namespace: str, data: Any, before: Any = None
    ) -> ChangeEvent:
        return ChangeEvent(
            operation=operation,
            namespace=namespace,
            actor=caller.login,
            timestamp=self._clock(),
            data=data,
            before=before,
        )

    async def adopt(self, names: set[str]) -> None:
        """Make sure these namespaces exist, silently (the default one, and those of stored mocks)."""
        known = {ns.name for ns in await self._store.list_namespaces()}
        for name in sorted((names | {DEFAULT_NAMESPACE}) - known):
            await self._store.insert_namespace(Namespace(name=name, created_at=self._clock()))

    async def _get(self, caller: Principal, name: str, need: Need) -> Namespace:
        ns = await self._store.get_namespace(name)
        if ns is None:
            raise no_namespace(name)()
        require(caller, need, name, no_namespace(name))
        return ns

    async def ensure(self, caller: Principal, name: str) -> None:
        """A namespace a mock names: created (admins only) when it does not exist yet."""
        if await self._store.get_namespace(name) is not None:
            return
        if not caller.is_admin:
            raise no_namespace(name)()
        ns = Namespace(name=name, created_at=self._clock())
        await self._insert(caller, ns)

    async def _insert(self, caller: Principal, ns: Namespace) -> bool:
        outbox = self._notifications.deliveries(
            self._event("namespace.create", caller, ns.name, namespace_view(ns))
        )
        created = await self._store.insert_namespace(ns, outbox=outbox)
        if created:
            self._notifications.announce(outbox)
        return created

    async def create(self, caller: Principal, data: Any) -> dict[str, Any]:
        """A new namespace (admins only)."""
        require_admin(caller, "Creating namespaces")
        body = validate(NamespaceIn, data, "namespace")
        ns = Namespace(name=body.name, description=body.description, created_at=self._clock())
        if not await self._insert(caller, ns):
            raise Conflict(
                f'The namespace "{body.name}" exists.',
                (FieldProblem(field="name", problem="is taken"),),
            )
        return namespace_view(ns)

    async def list_namespaces(self, caller: Principal) -> list[dict[str, Any]]:
        """The namespaces the caller belongs to (admins: all)."""
        return [
            namespace_view(ns)
            for ns in await self._store.list_namespaces()
            if caller.can(Need.READ, ns.name)
        ]

    async def get(self, caller: Principal, name: str) -> dict[str, Any]:
        """One namespace."""
        return namespace_view(await self._get(caller, name, Need.READ))

    async def update(self, caller: Principal, name: str, data: Any) -> dict[str, Any]:
        """Change the description (owners and admins)."""
        before = await self._get(caller, name, Need.MANAGE)
        body = validate(NamespacePatch, data, "namespace change")
        after = replace(
            before, description=before.description if body.description is None else body.description
        )
        view = namespace_view(after)
        event = self._event("namespace.update", caller, name, view, namespace_view(before))
        outbox = self._notifications.deliveries(event)
        if not await self._store.update_namespace(after, outbox=outbox):
            raise no_namespace(name)()
        self._notifications.announce(outbox)
        return view

    async def delete(self, caller: Principal, name: str) -> dict[str, Any]:
        """Remove a namespace (admins only); its mocks are soft-deleted."""
        require_admin(caller, "Deleting namespaces")
        ns = await self._get(caller, name, Need.MANAGE)
        if name == DEFAULT_NAMESPACE:
            raise Conflict(
                f'The default namespace "{DEFAULT_NAMESPACE}" cannot be deleted.',
                (FieldProblem(field="name", problem="is the default namespace"),),
            )
        _, active = await self._store.list_mocks(MockQuery(namespace=name, limit=1))
        view = {**namespace_view(ns), "mocksDeleted": active}
        event = self._event("namespace.delete", caller, name, view, namespace_view(ns))
        outbox = self._notifications.deliveries(event)
        hidden = await self._store.delete_namespace(name, self._clock(), outbox=outbox)
        if hidden is None:
            raise no_namespace(name)()
        self._notifications.announce(outbox)
        self._notifications.forget_namespace(name)
        for record in hidden:
            self._catalog.install(record)
        return {**namespace_view(ns), "mocksDeleted": len(hidden)}

    # ---- members

    async def members(self, caller: Principal, name: str) -> list[dict[str, Any]]:
        """The members of a namespace, with their logins."""
        await self._get(caller, name, Need.READ)
        out = []
        for m in await self._store.list_memberships(namespace=name):
            user = await self._store.get_user(m.user_id)
            out.append(
                {
                    "userId": m.user_id,
                    "login": None if user is None else user.login,
                    "role": m.role.value,
                }
            )
        return out

    async def add_member(self, caller: Principal, name: str, data: Any) -> dict[str, Any]:
        """Add a user to a namespace, or change their role (owners and admins)."""
        await self._get(caller, name, Need.MANAGE)
        body = validate(MemberIn, data, "member")
        if body.userId:
            user = await self._store.get_user(body.userId)
        elif body.login:
            user = await self._store.get_user_by_login(body.login)
        else:
            raise ValidationFailed(
                "Name the user: userId or login.",
                (FieldProblem(field="userId", problem="is required (or login)"),),
            )
        if user is None:
            raise NotFound(
                "No such user.", (FieldProblem(field="userId", problem="does not exist"),)
            )
        membership = Membership(namespace=name, user_id=user.id, role=body.role)
        view = {"userId": user.id, "login": user.login, "role": body.role.value, "namespace": name}
        before = next(
            (
                m
                for m in await self._store.list_memberships(namespace=name, user_id=user.id)
                if m.user_id == user.id
            ),
            None,
        )
        before_view = None if before is None else {**view, "role": before.role.value}
        outbox = self._notifications.deliveries(
            self._event("user.add_to_namespace", caller, name, view, before_view),
            self._event("namespace.user.add", caller, name, view, before_view),
        )
        await self._store.put_membership(membership, outbox=outbox)
        self._notifications.announce(outbox)
        return view

    async def remove_member(self, caller: Principal, name: str, user_id: str) -> None:
        """Remove a member (owners and admins)."""
        await self._get(caller, name, Need.MANAGE)
        if not await self._store.delete_membership(name, user_id):
            raise NotFound(
                f'The user "{user_id}" is not a member of "{name}".',
                (FieldProblem(field="userId", problem="is not a member"),),
            )
