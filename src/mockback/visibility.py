"""What of the deliveries and request logs a caller may see: their namespaces only.

Admins see everything, including the deliveries of admin webhooks (recorded under the
namespace ``@admin``). Anyone else sees the entries of the namespaces they belong to; an entry
of another namespace answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from mockback.domain.access import Need, Principal, no_namespace, require
from mockback.domain.deliveries import Delivery
from mockback.domain.errors import FieldProblem, NotFound, ValidationFailed
from mockback.store.base import DeliveryQuery, Store


def no_delivery(delivery_id: str) -> NotFound:
    """The not-found error of a delivery."""
    return NotFound(
        f'No delivery with id "{delivery_id}".',
        (FieldProblem(field="id", problem="does not exist"),),
    )


def check_delivery(caller: Principal, delivery: Delivery, need: Need) -> None:
    """Raise NotFound (not visible) or Forbidden (visible, role too weak)."""
    require(caller, need, delivery.namespace, lambda: no_delivery(delivery.id))


def scoped_namespace(caller: Principal, namespace: str | None) -> str | None:
    """Check an explicit namespace filter (404 when it is not the caller's)."""
    if namespace is not None:
        require(caller, Need.READ, namespace, no_namespace(namespace))
    return namespace


async def visible_deliveries(
    store: Store, query: DeliveryQuery, caller: Principal
) -> tuple[list[Delivery], int]:
    """A page of the deliveries the caller may see, newest first, and their total."""
    if caller.is_admin or query.namespace is not None:
        scoped_namespace(caller, query.namespace)
        return await store.list_deliveries(query)
    namespaces = sorted(caller.memberships)
    if not namespaces:
        return [], 0
    # One query per namespace, each for the first offset+limit rows; merging them newest
    # first gives exactly the page the union would give.
    wanted = query.offset + query.limit
    pages = []
    total = 0
    for ns in namespaces:
        items, count = await store.list_deliveries(
            replace(query, namespace=ns, offset=0, limit=wanted)
        )
        pages.append(items)
        total += count
    merged = heapq.merge(*pages, key=lambda d: (d.created_at, d.id), reverse=True)
    rows = list(merged)[query.offset : wanted]
    return rows, total


def visible_entries(
    caller: Principal, entries: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Request-log entries of the caller's namespaces."""
    if caller.is_admin:
        return list(entries)
    return [e for e in entries if caller.can(Need.READ, str(e.get("namespace")))]


async def wait_namespace(
    store: Store, caller: Principal, namespace: str | None, mock_id: str | None
) -> str | None:
    """The namespace a wait watches: an admin may watch all; others one of theirs."""
    if caller.is_admin or namespace is not None:
        return scoped_namespace(caller, namespace)
    if mock_id is not None:
        record = await store.get_mock(mock_id)
        if record is None or not caller.can(Need.READ, record.namespace):
            raise NotFound(
                f'No mock with id "{mock_id}".',
                (FieldProblem(field="mockId", problem="does not exist"),),
            )
        return record.namespace
    if len(caller.memberships) == 1:
        return next(iter(caller.memberships))
    raise ValidationFailed(
        f"Name the namespace to wait in: you belong to {len(caller.memberships)} namespaces.",
        (FieldProblem(field="namespace", problem="is required"),),
    )
