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


def store_keys(mock: Mock) -> tuple[tuple[str, str], ...]:
    """The (scope, owner) keys of the global, chain and mock stores a mock sees."""
    return tuple(
        (
            scope.value,
            owner_of(scope, namespace=mock.namespace, chain_id=mock.chain_id, mock_id=mock.id),
        )
        for scope in (StoreScope.GLOBAL, StoreScope.CHAIN, StoreScope.MOCK)
    )


class ContextBuilder:
    """Makes the RenderContext of a request for a mock."""

    def __init__(self, values: StoreValues, fake: FakeData) -> None:
        self.values = values
        self.fake = fake
        # Store keys per mock id, valid for that very version of the mock.
        self._keys: dict[str, tuple[Mock, tuple[tuple[str, str], ...]]] = {}

    def for_request(
        self, mock: Mock, req: RequestSnapshot, params: Mapping[str, str]
    ) -> RenderContext:
        """The context templates of ``mock`` render against for ``req``."""
        values = self.values
        return RenderContext(
            body=req.json,
            headers=_LazyHeaders(req),
            query=_LazyQuery(req),
            path_params=params,
            namespace=mock.namespace,
            global_store=values.view(StoreScope.GLOBAL, mock.namespace),
            chain_store=values.view(
                StoreScope.CHAIN,
                owner_of(
                    StoreScope.CHAIN,
                    namespace=mock.namespace,
                    chain_id=mock.chain_id,
                    mock_id=mock.id,
                ),
            ),
            mock_store=values.view(StoreScope.MOCK, mock.id),
            fake=self.fake,
        )
