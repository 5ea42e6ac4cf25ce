"""Mocks as pure values: what to match, what to answer, what to remember, what to call back.

These are built from a validated document (``schema.mocks``) and compiled for serving
(``compiled``); they carry no framework objects and do no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from mockback.domain.callbacks import CallbackSpec

DEFAULT_NAMESPACE = "sandbox"


class AssertAction(enum.Enum):
    """How a condition compares the request's value with the mock's value."""

    EQUALS = "equals"  # same JSON value (text of headers/query compared as text)
    NOT_EQUALS = "not_equals"  # not the same (a missing field is not equal)
    CONTAINS = "contains"  # substring of a string, element of a list, key of an object
    NOT_CONTAINS = "not_contains"  # the negation of contains (a missing field holds nothing)
    MATCHES = "matches"  # regular expression found in the text form
    ANY = "any"  # the field is present, whatever its value
    NOT_EMPTY = "notEmpty"  # present and not null, "", [] or {}
    EMPTY = "empty"  # missing, null, "", [] or {}


class ConditionSource(enum.Enum):
    """Which part of the request a condition reads."""

    BODY = "conditions"  # the JSON body, by a path like $.a.b[0]
    QUERY = "queryParams"  # a query parameter by name (first value)
    HEADER = "header"  # a header by name, case-insensitive (first value)


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldCondition:
    """One condition a request must meet for the mock to match."""

    source: ConditionSource  # where the value is read
    path: str  # a body path ($.amount) or a parameter/header name
    action: AssertAction  # the comparison
    value: Any = None  # the mock's side (may hold template text)


class StoreScope(enum.Enum):
    """The three stores a mock can read and write."""

    GLOBAL = "global"  # per namespace ($.gS)
    CHAIN = "chain"  # per chainId ($.cS)
    MOCK = "mock"  # per mock ($.mS)


@dataclass(frozen=True, slots=True, kw_only=True)
class Extraction:
    """Store a value taken from the request (a template) under a key."""

    scope: StoreScope  # which store
    key: str  # the key written
    expression: Any  # a template value rendered against the request


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseSpec:
    """What a matched mock answers."""

    status_code: int = 200  # HTTP status
    headers: tuple[tuple[str, tuple[str, ...]], ...] = ()  # name -> values (templated)
    payload: Any = None  # JSON value or string (templated); None answers an empty body
    delay_ms: int = 0  # wait before answering, without blocking other requests


@dataclass(frozen=True, slots=True, kw_only=True)
class Mock:
    """A stored mock, as matched and served."""

    id: str  # create-or-overwrite key
    namespace: str = DEFAULT_NAMESPACE  # served under /stubs/{namespace}
    chain_id: str | None = None  # mocks sharing it share the chain store
    tags: tuple[str, ...] = ()  # free labels for listing
    priority: int = 0  # higher wins among matching candidates
    route: str  # "/api/payments/:id" or "/api/payments/{id}"
    method: str | None = None  # upper-case; None matches any method
    conditions: tuple[FieldCondition, ...] = ()  # all must hold
    response: ResponseSpec = field(default_factory=ResponseSpec)  # the answer
    extractions: tuple[Extraction, ...] = ()  # run before the response renders
    callbacks: tuple[CallbackSpec, ...] = ()  # fired after the response
    created_at: datetime  # first creation (kept on overwrite)
    updated_at: datetime  # last change
    deleted_at: datetime | None = None  # soft delete: hidden from matching while set
    seq: int = 0  # creation order, for "older wins" among equals
    document: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The validated document in the API's shape, as the user wrote it plus defaults."""

    @property
    def deleted(self) -> bool:
        """Whether the mock is soft-deleted."""
        return self.deleted_at is not None
