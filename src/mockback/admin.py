"""The admin service: mock and store operations as plain async methods (no web framework).

Every change is validated completely before anything is written, so a rejected request
leaves the Store and the served mocks exactly as they were.
"""

from __future__ import annotations

import asyncio
import copy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mockback.catalog import Catalog
from mockback.domain.access import SYSTEM, Need, Principal, no_namespace, require
from mockback.domain.accounts import ChangeEvent
from mockback.domain.deliveries import Delivery
from mockback.domain.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from mockback.domain.mocks import StoreScope
from mockback.schema.limits import Limits
from mockback.schema.mocks import parse_mock
from mockback.secrets import contains_mask, mask_mock, unmask_mock
from mockback.store.base import MockQuery, MockRecord, Store
from mockback.values import StoreValues

if TYPE_CHECKING:
    from mockback.namespaces import Namespaces
    from mockback.notifications import Notifications


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """RFC 3339 text of a time."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def mock_view(record: MockRecord) -> dict[str, Any]:
    """The API shape of a stored mock (secrets masked)."""
    view = mask_mock(copy.deepcopy(dict(record.document)))
    view["createdAt"] = iso(record.created_at)
    view["updatedAt"] = iso(record.updated_at)
    view["deleted"] = record.deleted_at is not None
    view["deletedAt"] = iso(record.deleted_at)
    return view


@dataclass(frozen=True, slots=True, kw_only=True)
class MockChange:
    """What a create, overwrite, update, delete or restore did."""

    mock: dict[str, Any]  # the mock after the change (API shape)
    overwritten: bool  # an existing mock was replaced
    warnings: list[str]  # unknown fields and template problems
    before: dict[str, Any] | None  # the mock before, when there was one


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _refuse_dangling_masks(data: Mapping[str, Any]) -> None:
    """A mask sent for a secret that is not stored (new mock, new callback) is an error."""
    hooks = data.get("webhooks")
    if not isinstance(hooks, list):
        return
    problems = []
    for i, cb in enumerate(hooks):
        if not isinstance(cb, Mapping):
            continue
        for name in ("kafkaPassword", "rabbitURL", "signing"):
            if name in cb and contains_mask(cb[name]):
                problems.append(
                    FieldProblem(
                        field=f"webhooks[{i}].{name}",
                        problem="is the mask of a secret, but no secret is stored to keep; send the secret",
                    )
                )
    if problems:
        raise ValidationFailed("A masked secret has nothing stored behind it.", tuple(problems))


class Admin:
    """Mock and store administration.

    Every method takes the caller: a mock or store of a namespace the caller does not belong
    to answers 404, a viewer who tries a change gets 403. A change of a mock stores its change
    webhooks' deliveries in the same transaction (``notifications``).
    """

    def __init__(
        self,
        *,
        store: Store,
        catalog: Catalog,
        values: StoreValues,
        limits: Limits | None = None,
        strict: bool = False,
        clock: Callable[[], datetime] = utcnow,
        notifications: Notifications | None = None,
        namespaces: Namespaces | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.values = values
        self.limits = limits or Limits()
        self.strict = strict
        self.clock = clock
        self.notifications = notifications
        self.namespaces = namespaces
        # Mock changes read the stored version, then write: one at a time, so the change
        # event (create or update, before and after) is the one that is written.
        self._writing = asyncio.Lock()

    async def load(self) -> None:
        """Serve every stored active mock and warm the stores."""
        self.catalog.load(await self.store.active_mocks())
        await self.values.load()

    # ---- mocks

    def _outbox(
        self, operation: str, caller: Principal, after: MockRecord, before: MockRecord | None
    ) -> list[Delivery]:
        """The change webhooks' deliveries of a mock change (both namespaces when it moved)."""
        if self.notifications is None:
            return []
        data, prior = mock_view(after), None if before is None else mock_view(before)
        names = [after.namespace]
        if before is not None and before.namespace != after.namespace:
            names.append(before.namespace)
        now = self.clock()
        return self.notifications.deliveries(
            *(
                ChangeEvent(
                    operation=operation,
                    namespace=ns,
                    actor=caller.login,
                    timestamp=now,
                    data=data,
                    before=prior,
                )
                for ns in names
            )
        )

    def _announce(self, outbox: list[Delivery]) -> None:
        if self.notifications is not None:
            self.notifications.announce(outbox)

    async def save_mock(
        self,
        data: Any,
        *,
        caller: Principal = SYSTEM,
        strict: bool | None = None,
        id_override: str | None = None,
    ) -> MockChange:
        """Create, or overwrite by id (which also restores a deleted mock)."""
        async with self._writing:
            return await self._save_mock(data, caller, strict, id_override)

    async def _save_mock(
        self, data: Any, caller: Principal, strict: bool | None, id_override: str | None
    ) -> MockChange:
        mock_id = id_override or (data.get("id") if isinstance(data, Mapping) else None)
        existing = None
        if isinstance(mock_id, str) and isinstance(data, Mapping):
            existing = await self.store.get_mock(mock_id)
            if existing is not None and caller.role_in(existing.namespace) is None:
                raise Conflict(
                    f'The mock id "{mock_id}" is taken; choose another id.',
                    (FieldProblem(field="id", problem="is taken"),),
                )
            if existing is not None:
                require(caller, Need.WRITE, existing.namespace, no_namespace(existing.namespace))
            data = unmask_mock(data, None if existing is None else existing.document)
            _refuse_dangling_masks(data)
        parsed = parse_mock(
            data,
            strict=self.strict if strict is None else strict,
            limits=self.limits,
            id_override=id_override,
        )
        now = self.clock()
        # Compile before writing: template problems are warnings, but nothing may fail after
        # the write.
        compiled = self.catalog.compile(parsed, created_at=now, updated_at=now)
        namespace = parsed.model.namespace
        if self.namespaces is not None:
            await self.namespaces.ensure(caller, namespace)
        require(caller, Need.WRITE, namespace, no_namespace(namespace))
        after = MockRecord(
            id=parsed.id,
            namespace=namespace,
            document=parsed.document,
            created_at=now if existing is None else existing.created_at,
            updated_at=now,
            deleted_at=None,
            seq=0 if existing is None else existing.seq,
        )
        operation = "mock.create" if existing is None else "mock.update"
        outbox = self._outbox(operation, caller, after, existing)
        saved = await self.store.save_mock(parsed.document, now, outbox=outbox)
        self.catalog.install(saved.record)
        self._announce(outbox)
        return MockChange(
            mock=mock_view(saved.record),
            overwritten=saved.overwritten,
            warnings=[*parsed.warnings, *compiled.warnings],
            before=None if saved.before is None else mock_view(saved.before),
        )

    async def get_mock(self, mock_id: str, *, caller: Principal = SYSTEM) -> dict[str, Any]:
        """One mock (deleted ones too, marked)."""
        return mock_view(await self._record(mock_id, caller, Need.READ))

    async def list_mocks(
        self, query: MockQuery, *, caller: Principal = SYSTEM
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of mocks (of the caller's namespaces)."""
        if query.namespace is not None or caller.is_admin:
            if query.namespace is not None:
                require(caller, Need.READ, query.namespace, no_namespace(query.namespace))
            records, total = await self.store.list_mocks(query)
        else:
            everything, _ = await self.store.list_mocks(replace(query, offset=0, limit=sys.maxsize))
            mine = [r for r in everything if caller.can(Need.READ, r.namespace)]
            records, total = mine[query.offset : query.offset + query.limit], len(mine)
        return [mock_view(r) for r in records], total

    async def replace_mock(
        self, mock_id: str, data: Any, *, caller: Principal = SYSTEM, strict: bool | None = None
    ) -> MockChange:
        """PUT: replace the whole mock; it must exist."""
        await self._record(mock_id, caller, Need.WRITE)
        return await self.save_mock(data, caller=caller, strict=strict, id_override=mock_id)

    async def patch_mock(
        self, mock_id: str, patch: Any, *, caller: Principal = SYSTEM, strict: bool | None = None
    ) -> MockChange:
        """PATCH: JSON merge patch of the stored document, validated as a whole."""
        if not isinstance(patch, Mapping):
            raise ValidationFailed(
                "A patch must be a JSON object.",
                (FieldProblem(field="", problem="expected an object"),),
            )
        record = await self._record(mock_id, caller, Need.WRITE)
        if "id" in patch and patch["id"] != mock_id:
            raise ValidationFailed(
                "The id of a mock cannot be changed.",
                (FieldProblem(field="id", problem="cannot be changed by PATCH"),),
            )
        merged = merge_patch(dict(record.document), dict(patch))
        return await self.save_mock(merged, caller=caller, strict=strict, id_override=mock_id)

    async def delete_mock(self, mock_id: str, *, caller: Principal = SYSTEM) -> MockChange:
        """Soft delete: the mock stops matching; restore brings it back.

        Deleting a deleted mock changes nothing and fires nothing.
        """
        async with self._writing:
            before = await self._record(mock_id, caller, Need.WRITE)
            if before.deleted_at is not None:
                return MockChange(
                    mock=mock_view(before), overwritten=True, warnings=[], before=mock_view(before)
                )
            now = self.clock()
            outbox = self._outbox(
                "mock.delete", caller, replace(before, deleted_at=now, updated_at=now), before
            )
            record = await self.store.set_mock_deleted(mock_id, now, now, outbox=outbox)
            assert record is not None
            self.catalog.install(record)
            self._announce(outbox)
        return MockChange(
            mock=mock_view(record), overwritten=True, warnings=[], before=mock_view(before)
        )

    async def restore_mock(self, mock_id: str, *, caller: Principal = SYSTEM) -> MockChange:
        """Undo a soft delete (restoring an active mock changes nothing and fires nothing)."""
        async with self._writing:
            before = await self._record(mock_id, caller, Need.WRITE)
            if before.deleted_at is None:
                return MockChange(
                    mock=mock_view(before), overwritten=True, warnings=[], before=mock_view(before)
                )
            if self.namespaces is not None:
                await self.namespaces.ensure(caller, before.namespace)
            now = self.clock()
            outbox = self._outbox(
                "mock.restore", caller, replace(before, deleted_at=None, updated_at=now), before
            )
            record = await self.store.set_mock_deleted(mock_id, None, now, outbox=outbox)
            assert record is not None
            self.catalog.install(record)
            self._announce(outbox)
        return MockChange(
            mock=mock_view(record), overwritten=True, warnings=[], before=mock_view(before)
        )

    async def _record(
        self, mock_id: str, caller: Principal = SYSTEM, need: Need = Need.READ
    ) -> MockRecord:
        def missing() -> NotFound:
            return NotFound(
                f'No mock with id "{mock_id}".',
                (FieldProblem(field="id", problem="does not exist"),),
            )

        record = await self.store.get_mock(mock_id)
        if record is None:
            raise missing()
        require(caller, need, record.namespace, missing)
        return record

    # ---- stores

    async def _check_store(
        self, caller: Principal, scope: StoreScope, owner: str, need: Need
    ) -> None:
        """A global store is its namespace's; a chain store is shared by its mocks' namespaces."""
        if caller.is_admin:
            return
        if scope is not StoreScope.CHAIN:
            require(caller, need, owner, no_namespace(owner))
            return
        mine = sorted(
            ns for ns in await self.store.chain_namespaces(owner) if caller.role_in(ns) is not None
        )
        if not mine:
            raise NotFound(
                f'No chain store "{owner}".',
                (FieldProblem(field="chainId", problem="does not exist"),),
            )
        if not any(caller.can(need, ns) for ns in mine):
            require(caller, need, mine[0], no_namespace(mine[0]))

    async def get_values(
        self, scope: StoreScope, owner: str, *, caller: Principal = SYSTEM
    ) -> dict[str, Any]:
        """One store's values."""
        await self._check_store(caller, scope, owner, Need.READ)
        return self.values.snapshot(scope, owner)

    async def merge_values(
        self, scope: StoreScope, owner: str, values: Any, *, caller: Principal = SYSTEM
    ) -> dict[str, Any]:
        """Merge an object into a store."""
        await self._check_store(caller, scope, owner, Need.WRITE)
        if not isinstance(values, Mapping):
            raise ValidationFailed(
                "Store values must be a JSON object.",
                (FieldProblem(field="", problem="expected an object"),),
            )
        return await self.values.merge(scope, owner, dict(values))

    async def delete_value(
        self, scope: StoreScope, owner: str, key: str, *, caller: Principal = SYSTEM
    ) -> None:
        """Remove one key; NotFound when absent."""
        await self._check_store(caller, scope, owner, Need.WRITE)
        if not await self.values.delete(scope, owner, key):
            raise NotFound(
                f'No key "{key}" in that store.',
                (FieldProblem(field="key", problem="does not exist"),),
            )
