"""The catalog: stored mocks, compiled and indexed for serving, kept in step with the Store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mockback.compiled import CompiledMock, ContextFor, compile_mock, to_candidate
from mockback.domain.mocks import Mock
from mockback.matching import MockIndex
from mockback.schema.mocks import ParsedMock, parse_mock
from mockback.store.base import MockRecord

CallbackCompiler = Callable[[Mock], tuple[tuple[Any, ...], tuple[str, ...]]]
"""Compiles a mock's callbacks for the delivery planner: (compiled callbacks, warnings)."""


def _no_callbacks(mock: Mock) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    return (), ()


class Catalog:
    """Compiles stored mocks and keeps the matching index current."""

    def __init__(
        self,
        index: MockIndex,
        callback_compiler: CallbackCompiler | None = None,
        context_for: ContextFor | None = None,
    ) -> None:
        self.index = index
        self._callbacks = callback_compiler or _no_callbacks
        self._context_for = context_for

    def compile(
        self,
        parsed: ParsedMock,
        *,
        created_at: datetime,
        updated_at: datetime,
        deleted_at: datetime | None = None,
        seq: int = 0,
    ) -> CompiledMock:
        """Compile a validated mock (templates, conditions, callbacks)."""
        mock = parsed.to_mock(
            created_at=created_at, updated_at=updated_at, deleted_at=deleted_at, seq=seq
        )
        callbacks, warnings = self._callbacks(mock)
        return compile_mock(mock, callbacks, warnings, self._context_for)

    def compile_record(self, record: MockRecord) -> CompiledMock:
        """Compile a stored mock (its document was validated when saved)."""
        parsed = parse_mock(dict(record.document))
        return self.compile(
            parsed,
            created_at=record.created_at,
            updated_at=record.updated_at,
            deleted_at=record.deleted_at,
            seq=record.seq,
        )

    def install(self, record: MockRecord) -> CompiledMock:
        """Serve this version of a mock (or stop serving it when deleted)."""
        compiled = self.compile_record(record)
        if record.deleted_at is None:
            self.index.put(to_candidate(compiled))
        else:
            self.index.remove(record.id)
        return compiled

    def load(self, records: list[MockRecord]) -> None:
        """Replace the index with these mocks."""
        for record in records:
            self.install(record)
