"""The admin service: mock and store operations as plain async methods (no web framework).

Every change is validated completely before anything is written, so a rejected request
leaves the Store and the served mocks exactly as they were.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mockback.catalog import Catalog
from mockback.domain.errors import FieldProblem, NotFound, ValidationFailed
from mockback.domain.mocks import StoreScope
from mockback.schema.limits import Limits
from mockback.schema.mocks import parse_mock
from mockback.secrets import contains_mask, mask_mock, unmask_mock
from mockback.store.base import MockQuery, MockRecord, Store
from mockback.values import StoreValues


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
    """Mock and store administration."""

    def __init__(
        self,
        *,
        store: Store,
        catalog: Catalog,
        values: StoreValues,
        limits: Limits | None = None,
        strict: bool = False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.values = values
        self.limits = limits or Limits()
        self.strict = strict
        self.clock = clock

    async def load(self) -> None:
        """Serve every stored active mock and warm the stores."""
        self.catalog.load(await self.store.active_mocks())
        await self.values.load()

    # ---- mocks

    async def save_mock(
        self, data: Any, *, strict: bool | None = None, id_override: str | None = None
    ) -> MockChange:
        """Create, or overwrite by id (which also restores a deleted mock)."""
        mock_id = id_override or (data.get("id") if isinstance(data, Mapping) else None)
        if isinstance(mock_id, str) and isinstance(data, Mapping):
            existing = await self.store.get_mock(mock_id)
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
        saved = await self.store.save_mock(parsed.document, now)
        self.catalog.install(saved.record)
        return MockChange(
            mock=mock_view(saved.record),
            overwritten=saved.overwritten,
            warnings=[*parsed.warnings, *compiled.warnings],
            before=None if saved.before is None else mock_view(saved.before),
        )

    async def get_mock(self, mock_id: str) -> dict[str, Any]:
        """One mock (deleted ones too, marked)."""
        return mock_view(await self._record(mock_id))

    async def list_mocks(self, query: MockQuery) -> tuple[list[dict[str, Any]], int]:
        """A page of mocks."""
        records, total = await self.store.list_mocks(query)
        return [mock_view(r) for r in records], total

    async def replace_mock(
        self, mock_id: str, data: Any, *, strict: bool | None = None
    ) -> MockChange:
        """PUT: replace the whole mock; it must exist."""
        await self._record(mock_id)
        return await self.save_mock(data, strict=strict, id_override=mock_id)

    async def patch_mock(
        self, mock_id: str, patch: Any, *, strict: bool | None = None
    ) -> MockChange:
        """PATCH: JSON merge patch of the stored document, validated as a whole."""
        if not isinstance(patch, Mapping):
            raise ValidationFailed(
                "A patch must be a JSON object.",
                (FieldProblem(field="", problem="expected an object"),),
            )
        record = await self._record(mock_id)
        if "id" in patch and patch["id"] != mock_id:
            raise ValidationFailed(
                "The id of a mock cannot be changed.",
                (FieldProblem(field="id", problem="cannot be changed by PATCH"),),
            )
        merged = merge_patch(dict(record.document), dict(patch))
        return await self.save_mock(merged, strict=strict, id_override=mock_id)

    async def delete_mock(self, mock_id: str) -> MockChange:
        """Soft delete: the mock stops matching; restore brings it back."""
        before = await self._record(mock_id)
        now = self.clock()
        record = await self.store.set_mock_deleted(mock_id, before.deleted_at or now, now)
        assert record is not None
        self.catalog.install(record)
        return MockChange(
            mock=mock_view(record), overwritten=True, warnings=[], before=mock_view(before)
        )

    async def restore_mock(self, mock_id: str) -> MockChange:
        """Undo a soft delete."""
        before = await self._record(mock_id)
        record = await self.store.set_mock_deleted(mock_id, None, self.clock())
        assert record is not None
        self.catalog.install(record)
        return MockChange(
            mock=mock_view(record), overwritten=True, warnings=[], before=mock_view(before)
        )

    async def _record(self, mock_id: str) -> MockRecord:
        record = await self.store.get_mock(mock_id)
        if record is None:
            raise NotFound(
                f'No mock with id "{mock_id}".',
                (FieldProblem(field="id", problem="does not exist"),),
            )
        return record

    # ---- stores

    def get_values(self, scope: StoreScope, owner: str) -> dict[str, Any]:
        """One store's values."""
        return self.values.snapshot(scope, owner)

    async def merge_values(self, scope: StoreScope, owner: str, values: Any) -> dict[str, Any]:
        """Merge an object into a store."""
        if not isinstance(values, Mapping):
            raise ValidationFailed(
                "Store values must be a JSON object.",
                (FieldProblem(field="", problem="expected an object"),),
            )
        return await self.values.merge(scope, owner, dict(values))

    async def delete_value(self, scope: StoreScope, owner: str, key: str) -> None:
        """Remove one key; NotFound when absent."""
        if not await self.values.delete(scope, owner, key):
            raise NotFound(
                f'No key "{key}" in that store.',
                (FieldProblem(field="key", problem="does not exist"),),
            )
