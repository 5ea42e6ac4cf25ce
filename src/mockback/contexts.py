"""Building the template context of a request: what `$.` expressions can see.

Headers and query parameters are handed to templates as lazy mappings, so a mock that never
reads them never pays for decoding them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mockback.compiled import RequestContext
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
    """Makes the RenderContexts of requests to a mock."""

    def __init__(self, values: StoreValues, fake: FakeData) -> None:
        self.values = values
        self.fake = fake

    def for_mock(self, mock: Mock) -> RequestContext:
        """How a request to this version of ``mock`` becomes its template context.

        Called when the mock is compiled: its stores (from its namespace and chainId) are
        found here, once; their mappings stay live (see ``StoreValues.view_key``), so a request
        does not look them up.
        """
        global_key, chain_key, mock_key = store_keys(mock)
        namespace = mock.namespace
        view = self.values.view_key
        global_store, chain_store, mock_store = view(global_key), view(chain_key), view(mock_key)
        fake = self.fake

        def for_request(req: RequestSnapshot, params: Mapping[str, str]) -> RenderContext:
            return RenderContext.of_request(
                req.json,
                _LazyHeaders(req),
                _LazyQuery(req),
                params,
                namespace,
                global_store,
                chain_store,
                mock_store,
                fake,
            )

        return for_request
