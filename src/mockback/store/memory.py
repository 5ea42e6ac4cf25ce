"""The in-memory Store: nothing written anywhere (``--ephemeral``, and unit tests)."""

from __future__ import annotations

import copy
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from mockback.domain.deliveries import Delivery, DeliveryStatus
from mockback.store.base import DeliveryQuery, DeliveryUpdate, MockQuery, MockRecord, SavedMock
from mockback.store.filters import mock_matches_query
from mockback.store.memory_accounts import MemoryAccounts


class MemoryStore(MemoryAccounts):
    """Dicts behind the Store seam."""

    def __init__(self) -> None:
        self._mocks: dict[str, MockRecord] = {}
        self._seq = 0
        self._values: dict[tuple[str, str], dict[str, Any]] = {}
        self._deliveries: dict[str, Delivery] = {}
        self._open: set[str] = set()  # ids of deliveries not final
        # request id -> ids of its deliveries: callback sequences list a request's deliveries
        # each time one of them ends, and a scan of every delivery held would stall the loop
        self._by_request: dict[str, set[str]] = {}

    async def open(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to close."""

    async def save_mock(
        self, document: Mapping[str, Any], now: datetime, *, outbox: Sequence[Delivery] = ()
    ) -> SavedMock:
        """Create or overwrite (and store the outbox deliveries in the same step)."""
        mock_id = str(document["id"])
        await self._outbox(outbox)
        before = self._mocks.get(mock_id)
        doc = copy.deepcopy(dict(document))
        if before is None:
            self._seq += 1
            record = MockRecord(
                id=mock_id,
                namespace=str(doc.get("namespace", "sandbox")),
                document=doc,
                created_at=now,
                updated_at=now,
                deleted_at=None,
                seq=self._seq,
            )
        else:
            record = replace(
                before,
                namespace=str(doc.get("namespace", "sandbox")),
                document=doc,
                updated_at=now,
                deleted_at=None,
            )
        self._mocks[mock_id] = record
        return SavedMock(record=record, overwritten=before is not None, before=before)

    async def get_mock(self, mock_id: str) -> MockRecord | None:
        """By id."""
        return self._mocks.get(mock_id)

    async def list_mocks(self, query: MockQuery) -> tuple[list[MockRecord], int]:
        """Filter in Python, ordered by creation."""
        rows = sorted(
            (r for r in self._mocks.values() if mock_matches_query(r, query)), key=lambda r: r.seq
        )
        return rows[query.offset : query.offset + query.limit], len(rows)

    async def active_mocks(self) -> list[MockRecord]:
        """Not deleted, by creation."""
        return sorted(
            (r for r in self._mocks.values() if r.deleted_at is None), key=lambda r: r.seq
        )

    async def set_mock_deleted(
        self,
        mock_id: str,
        deleted_at: datetime | None,
        now: datetime,
        *,
        outbox: Sequence[Delivery] = (),
    ) -> MockRecord | None:
        """Soft delete or restore (and store the outbox deliveries in the same step)."""
        record = self._mocks.get(mock_id)
        if record is None:
            return None
        await self._outbox(outbox)
        record = replace(record, deleted_at=deleted_at, updated_at=now)
        self._mocks[mock_id] = record
        return record

    async def get_values(self, scope: str, owner: str) -> dict[str, Any]:
        """A copy of one store."""
        return copy.deepcopy(self._values.get((scope, owner), {}))

    async def merge_values(
        self, scope: str, owner: str, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Merge keys."""
        current = self._values.setdefault((scope, owner), {})
        current.update(copy.deepcopy(dict(values)))
        return copy.deepcopy(current)

    async def delete_value(self, scope: str, owner: str, key: str) -> bool:
        """Remove a key."""
        current = self._values.get((scope, owner))
        if current is None or key not in current:
            return False
        del current[key]
        return True

    async def all_values(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Everything."""
        return copy.deepcopy(self._values)

    def _put(self, d: Delivery) -> None:
        self._deliveries[d.id] = d
        if d.request_id is not None:
            self._by_request.setdefault(d.request_id, set()).add(d.id)
        if d.status.is_final:
            self._open.discard(d.id)
        else:
            self._open.add(d.id)

    def _drop(self, d: Delivery) -> None:
        """Forget a delivery (purged)."""
        del self._deliveries[d.id]
        self._open.discard(d.id)
        if d.request_id is None:
            return
        siblings = self._by_request.get(d.request_id, set())
        siblings.discard(d.id)
        if not siblings:
            self._by_request.pop(d.request_id, None)

    async def insert_deliveries(self, deliveries: list[Delivery]) -> None:
        """Keep them; an id already stored is refused, as a primary key would be."""
        taken = [d.id for d in deliveries if d.id in self._deliveries]
        if taken or len({d.id for d in deliveries}) != len(deliveries):
            raise ValueError(f"delivery ids already stored: {taken or 'duplicated in batch'}")
        for d in deliveries:
            self._put(d)

    async def update_deliveries(self, updates: list[DeliveryUpdate]) -> None:
        """Apply in order; unknown ids are ignored."""
        for u in updates:
            d = self._deliveries.get(u.delivery_id)
            if d is None:
                continue
            attempts = d.attempts
            if u.attempt is not None:
                # Numbers are unique per delivery: a rewritten attempt replaces the old one.
                kept = tuple(a for a in attempts if a.number != u.attempt.number)
                attempts = tuple(sorted((*kept, u.attempt), key=lambda a: a.number))
            self._put(
                replace(
                    d,
                    status=u.status,
                    due_at=u.due_at,
                    finished_at=u.finished_at,
                    attempt_count=u.attempt_count,
                    error=u.error,
                    attempts=attempts,
                )
            )

    async def write_deliveries(self, new: list[Delivery], updates: list[DeliveryUpdate]) -> None:
        """Insert, then update; nothing is changed when the insert is refused."""
        await self.insert_deliveries(new)
        await self.update_deliveries(updates)

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        """By id, with attempts."""
        return self._deliveries.get(delivery_id)

    async def list_deliveries(self, query: DeliveryQuery) -> tuple[list[Delivery], int]:
        """Newest first."""
        candidates: Iterable[Delivery] = (
            self._deliveries.values()
            if query.request_id is None
            else [self._deliveries[i] for i in self._by_request.get(query.request_id, ())]
        )
        rows = [
            d
            for d in candidates
            if (query.mock_id is None or d.mock_id == query.mock_id)
            and (query.namespace is None or d.namespace == query.namespace)
            and (not query.statuses or d.status in query.statuses)
            and (query.request_id is None or d.request_id == query.request_id)
        ]
        rows.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        page = [replace(d, attempts=()) for d in rows[query.offset : query.offset + query.limit]]
        return page, len(rows)

    async def unfinished_deliveries(
        self, *, due_before: datetime | None, limit: int, exclude: frozenset[str] = frozenset()
    ) -> list[Delivery]:
        """Not final, oldest due first."""
        rows = [
            d
            for d in (self._deliveries[i] for i in self._open if i not in exclude)
            if due_before is None or d.due_at <= due_before
        ]
        return heapq.nsmallest(limit, rows, key=lambda d: (d.due_at, d.id))

    async def count_unfinished(self) -> int:
        """Deliveries not final."""
        return len(self._open)

    async def flush_scheduled(self, now: datetime) -> int:
        """Everything scheduled becomes due."""
        count = 0
        for i in list(self._open):
            d = self._deliveries[i]
            if d.status is DeliveryStatus.SCHEDULED:
                self._deliveries[i] = replace(d, due_at=now)
                count += 1
        return count

    async def reopen_delivery(self, delivery: Delivery) -> None:
        """Rewrite the delivery's state, keeping its attempts; unknown ids are ignored."""
        old = self._deliveries.get(delivery.id)
        if old is None:
            return
        self._put(
            replace(
                old,
                status=delivery.status,
                due_at=delivery.due_at,
                finished_at=delivery.finished_at,
                error=delivery.error,
                retry=delivery.retry,
            )
        )

    async def release_delivery(self, delivery: Delivery) -> None:
        """Rewrite what a waiting delivery becomes, keeping its attempts; unknown ids are ignored."""
        old = self._deliveries.get(delivery.id)
        if old is None:
            return
        self._put(
            replace(
                old,
                status=delivery.status,
                due_at=delivery.due_at,
                finished_at=delivery.finished_at,
                error=delivery.error,
                target=delivery.target,
                request=delivery.request,
                options=delivery.options,
            )
        )
