"""One contract for every Store backend: memory and SQLite pass the same tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mockback.store.base import MockQuery, Store
from mockback.store.memory import MemoryStore
from mockback.store.sqlite import SqliteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "db")
    await backend.open()
    yield backend
    await backend.close()


def doc(
    mock_id: str, route: str = "/x", namespace: str = "sandbox", tags: tuple[str, ...] = ()
) -> dict[str, object]:
    return {"id": mock_id, "namespace": namespace, "tags": list(tags), "http": {"route": route}}


async def test_create_then_overwrite_keeps_creation(store: Store) -> None:
    """Saving an existing id overwrites it, keeps createdAt and order, and reports it."""
    first = await store.save_mock(doc("a", "/one"), T0)
    assert not first.overwritten
    second = await store.save_mock(doc("a", "/two"), T0 + timedelta(seconds=5))
    assert second.overwritten and second.before is not None
    assert second.before.document["http"] == {"route": "/one"}
    got = await store.get_mock("a")
    assert got is not None
    assert got.document["http"] == {"route": "/two"}
    assert got.created_at == T0 and got.updated_at == T0 + timedelta(seconds=5)
    assert got.seq == first.record.seq


async def test_list_filters_and_pages(store: Store) -> None:
    """Listing filters by namespace, tags and search, pages by offset/limit, and counts all."""
    for i in range(5):
        await store.save_mock(
            doc(f"m{i}", f"/r{i}", "ns" if i % 2 else "sandbox", ("t",) if i < 3 else ()), T0
        )
    items, total = await store.list_mocks(MockQuery(limit=2, offset=1))
    assert [r.id for r in items] == ["m1", "m2"] and total == 5
    items, total = await store.list_mocks(MockQuery(namespace="ns"))
    assert [r.id for r in items] == ["m1", "m3"] and total == 2
    items, _ = await store.list_mocks(MockQuery(tags=("t",)))
    assert [r.id for r in items] == ["m0", "m1", "m2"]
    items, _ = await store.list_mocks(MockQuery(search="R4"))
    assert [r.id for r in items] == ["m4"]


async def test_soft_delete_and_restore(store: Store) -> None:
    """A deleted mock leaves the active list and the default listing; restore brings it back."""
    await store.save_mock(doc("a"), T0)
    deleted = await store.set_mock_deleted("a", T0, T0)
    assert deleted is not None and deleted.deleted_at == T0
    assert await store.active_mocks() == []
    assert (await store.list_mocks(MockQuery()))[1] == 0
    assert (await store.list_mocks(MockQuery(include_deleted=True)))[1] == 1
    await store.set_mock_deleted("a", None, T0)
    assert [r.id for r in await store.active_mocks()] == ["a"]
    assert await store.set_mock_deleted("missing", T0, T0) is None


async def test_values_merge_and_delete(store: Store) -> None:
    """Store values merge key by key, hold any JSON, and delete one key at a time."""
    assert await store.get_values("global", "sandbox") == {}
    await store.merge_values("global", "sandbox", {"a": 1, "b": {"x": [1, None]}})
    merged = await store.merge_values("global", "sandbox", {"a": 2})
    assert merged == {"a": 2, "b": {"x": [1, None]}}
    assert await store.get_values("global", "other") == {}
    assert await store.delete_value("global", "sandbox", "a")
    assert not await store.delete_value("global", "sandbox", "a")
    assert await store.all_values() == {("global", "sandbox"): {"b": {"x": [1, None]}}}


async def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    """What the SQLite store committed is there after closing and opening it again."""
    first = SqliteStore(tmp_path / "db")
    await first.open()
    await first.save_mock(doc("kept"), T0)
    await first.merge_values("chain", "c1", {"n": 3})
    await first.close()
    second = SqliteStore(tmp_path / "db")
    await second.open()
    assert [r.id for r in await second.active_mocks()] == ["kept"]
    assert await second.get_values("chain", "c1") == {"n": 3}
    await second.close()
