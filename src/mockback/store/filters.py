"""Mock listing filters, shared by backends that filter in Python."""

from __future__ import annotations

from mockback.store.base import MockQuery, MockRecord


def mock_matches_query(record: MockRecord, query: MockQuery) -> bool:
    """Whether a stored mock passes the listing's filters."""
    if not query.include_deleted and record.deleted_at is not None:
        return False
    if query.namespace is not None and record.namespace != query.namespace:
        return False
    if query.tags:
        tags = set(record.document.get("tags") or ())
        if not set(query.tags) <= tags:
            return False
    if query.search:
        needle = query.search.lower()
        route = str((record.document.get("http") or {}).get("route", ""))
        if needle not in record.id.lower() and needle not in route.lower():
            return False
    return True
