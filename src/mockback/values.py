"""The global, chain and mock stores as serving sees them: cached in process, written through.

Reads are served from the cache. An extraction renders, writes the cache and only then yields
to the event loop, so two requests incrementing one counter never read the same old value;
the write then goes to the Store (group-committed) before the response is sent.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mockback.domain.mocks import StoreScope
from mockback.store.base import Store


def owner_of(scope: StoreScope, *, namespace: str, chain_id: str | None, mock_id: str) -> str:
    """The key a store is kept under: namespace, chain id, or mock id.

    A mock without a chainId has a chain store of its own (keyed by its id).
    """
    if scope is StoreScope.GLOBAL:
        return namespace
    if scope is StoreScope.CHAIN:
        return chain_id if chain_id is not None else f"mock:{mock_id}"
    return mock_id


class StoreValues:
    """A write-through cache over the Store's key-value stores."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}

    async def load(self) -> None:
        """Fill the cache from the Store, in place: mappings already handed out by ``view``
        stay the live ones (compiled mocks keep theirs, so a request does not look them up)."""
        fresh = await self._store.all_values()
        for key, values in self._cache.items():
            loaded = dict(fresh.pop(key, {}))  # a copy: the Store may hand out this very dict
            values.clear()
            values.update(loaded)
        self._cache.update(fresh)

    def view(self, scope: StoreScope, owner: str) -> Mapping[str, Any]:
        """The live values of one store (read-only by convention)."""
        return self.view_key((scope.value, owner))

    def view_key(self, key: tuple[str, str]) -> Mapping[str, Any]:
        """The live values of the store ``(scope value, owner)``: the same mapping for as long
        as the process runs, whatever is written, deleted or loaded."""
        # Created on first view, never replaced, so the mapping handed out stays the live one.
        values = self._cache.get(key)
        if values is None:
            values = self._cache[key] = {}
        return values

    def snapshot(self, scope: StoreScope, owner: str) -> dict[str, Any]:
        """A copy of one store."""
        return copy.deepcopy(self._cache.get((scope.value, owner), {}))

    def apply(self, scope: StoreScope, owner: str, values: Mapping[str, Any]) -> None:
        """Write to the cache now (synchronously)."""
        self._cache.setdefault((scope.value, owner), {}).update(values)

    async def persist(self, scope: StoreScope, owner: str, values: Mapping[str, Any]) -> None:
        """Write to the Store."""
        await self._store.merge_values(scope.value, owner, values)

    async def merge(
        self, scope: StoreScope, owner: str, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Admin write: cache and Store; returns the whole store."""
        self.apply(scope, owner, values)
        await self.persist(scope, owner, values)
        return self.snapshot(scope, owner)

    async def delete(self, scope: StoreScope, owner: str, key: str) -> bool:
        """Admin delete of one key."""
        self._cache.get((scope.value, owner), {}).pop(key, None)
        return await self._store.delete_value(scope.value, owner, key)
