"""Building the template context of a request: what `$.` expressions can see.

Headers and query parameters are handed to templates as lazy mappings, so a mock that never
reads them never pays for decoding them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mockback.domain.mocks import Mock, StoreScope
from mockback.domain.requests import RequestSnapshot
from mockback.templating import FakeData, RenderContext
from mockback.values import StoreValues, owner_of


class _LazyHeaders(Mapping[str, list[str]]):
    __slots__ = ("_req",)

    def __init__(self, req: RequestSnapshot) -> None:
        self._req = req

    def __getitem__(self, key: str) -> list[str]:
        return self._req.headers[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._req.headers.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._req.headers)

    def __len__(self) -> int:
        return len(self._req.headers)


class _LazyQuery(_LazyHeaders):
    __slots__ = ()

    def __getitem__(self, key: str) -> list[str]:
        return self._req.query[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._req.query.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._req.query)

    def __len__(self) -> int:
        return len(self._req.query)


StoreKey = tuple[str, str]  # (scope value, owner)


def store_keys(mock: Mock) -> tuple[StoreKey, StoreKey, StoreKey]:
    """The (scope, owner) keys of the global, chain and mock stores a mock sees."""

    def key(scope: StoreScope) -> StoreKey:
        return (
            scope.value,
            owner_of(scope, namespace=mock.namespace, chain_id=mock.chain_id, mock_id=mock.id),
        )

    return key(StoreScope.GLOBAL), key(StoreScope.CHAIN), key(StoreScope.MOCK)


class ContextBuilder:
    """Makes the RenderContext of a request for a mock."""

    def __init__(self, values: StoreValues, fake: FakeData) -> None:
        self.values = values
        self.fake = fake
        # Store keys per mock id, valid for that very version of the mock (one entry per mock
        # id ever served: small, and replaced when the mock changes).
        self._keys: dict[str, tuple[Mock, tuple[StoreKey, StoreKey, StoreKey]]] = {}

    def for_request(
        self, mock: Mock, req: RequestSnapshot, params: Mapping[str, str]
    ) -> RenderContext:
        """The context templates of ``mock`` render against for ``req``."""
        cached = self._keys.get(mock.id)
        if cached is None or cached[0] is not mock:
            # Once per version of a mock: the owner keys depend on its namespace and chainId.
            cached = self._keys[mock.id] = (mock, store_keys(mock))
        global_key, chain_key, mock_key = cached[1]
        view = self.values.view_key
        return RenderContext.of_request(
            req.json,
            _LazyHeaders(req),
            _LazyQuery(req),
            params,
            mock.namespace,
            view(global_key),
            view(chain_key),
            view(mock_key),
            self.fake,
        )
