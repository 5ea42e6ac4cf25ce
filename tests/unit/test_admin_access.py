"""The mock admin service checks the caller's namespace and stores change webhooks with changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from mockback.admin import Admin
from mockback.catalog import Catalog
from mockback.domain.access import ANONYMOUS, Forbidden, Principal
from mockback.domain.accounts import NamespaceRole, Role, WebhookScope
from mockback.domain.deliveries import Delivery
from mockback.domain.errors import Conflict, NotFound
from mockback.domain.mocks import StoreScope
from mockback.matching import MockIndex
from mockback.namespaces import Namespaces
from mockback.notifications import Notifications
from mockback.store.base import DeliveryQuery, MockQuery
from mockback.store.memory import MemoryStore
from mockback.templating import FakeData
from mockback.values import StoreValues

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Intake:
    """Records what is handed to the engine."""

    def __init__(self) -> None:
        self.submitted: list[Delivery] = []

    def submit(self, deliveries: list[Delivery]) -> None:
        """Record."""
        self.submitted.extend(deliveries)

    def completion(self, delivery_id: str) -> asyncio.Future[Delivery]:
        """Never used here."""
        raise NotImplementedError


def user(**roles: NamespaceRole) -> Principal:
    return Principal(login="u", role=Role.USER, user_id="usr_u", memberships=roles)


async def build() -> tuple[Admin, MemoryStore, Intake]:
    store = MemoryStore()
    intake = Intake()
    catalog = Catalog(MockIndex())
    notifications = Notifications(store=store, intake=intake, fake=FakeData(seed=1))
    namespaces = Namespaces(store=store, notifications=notifications, catalog=catalog)
    admin = Admin(
        store=store,
        catalog=catalog,
        values=StoreValues(store),
        notifications=notifications,
        namespaces=namespaces,
    )
    await namespaces.adopt({"a", "b"})
    await notifications.save_webhook(
        ANONYMOUS, WebhookScope.NAMESPACE, "a", {"operation": "*", "url": "http://x.test/"}
    )
    await notifications.save_webhook(
        ANONYMOUS, WebhookScope.ADMIN, None, {"operation": "*", "url": "http://x.test/admin"}
    )
    await admin.save_mock({"id": "in-b", "namespace": "b", "http": {"route": "/b"}})
    return admin, store, intake


async def stored(store: MemoryStore) -> list[str]:
    items, _ = await store.list_deliveries(DeliveryQuery())
    return sorted(d.request.url for d in items)


async def test_every_mock_change_stores_and_announces_its_webhooks() -> None:
    """Create, update, delete and restore each store one delivery and hand it to the engine."""
    admin, store, intake = await build()
    editor = user(a=NamespaceRole.EDITOR)
    doc = {"id": "m", "namespace": "a", "http": {"route": "/m"}}
    await admin.save_mock(doc, caller=editor)
    await admin.save_mock({**doc, "priority": 2}, caller=editor)
    await admin.delete_mock("m", caller=editor)
    await admin.delete_mock("m", caller=editor)  # already deleted: nothing happens
    await admin.restore_mock("m", caller=editor)
    items, total = await store.list_deliveries(DeliveryQuery())
    assert total == 4 == len(intake.submitted)
    assert {d.id for d in items} == {d.id for d in intake.submitted}


async def test_a_mock_naming_a_new_namespace_creates_it_for_admins_only() -> None:
    """An admin's mock creates its namespace (namespace.create fires); a user's is refused."""
    admin, store, _ = await build()
    with pytest.raises(NotFound, match='No namespace "fresh"'):
        await admin.save_mock(
            {"namespace": "fresh", "http": {"route": "/f"}}, caller=user(a=NamespaceRole.OWNER)
        )
    assert await store.get_namespace("fresh") is None
    await admin.save_mock({"namespace": "fresh", "http": {"route": "/f"}}, caller=ANONYMOUS)
    assert await store.get_namespace("fresh") is not None
    assert "http://x.test/admin" in await stored(store)


async def test_other_namespaces_are_invisible_and_viewers_read_only() -> None:
    """A member of a sees nothing of b (404), and a viewer of a cannot change a (403)."""
    admin, store, _ = await build()
    owner_a, viewer_a = user(a=NamespaceRole.OWNER), user(a=NamespaceRole.VIEWER)
    for attempt in (
        admin.get_mock("in-b", caller=owner_a),
        admin.delete_mock("in-b", caller=owner_a),
        admin.restore_mock("in-b", caller=owner_a),
        admin.patch_mock("in-b", {"priority": 1}, caller=owner_a),
        admin.list_mocks(MockQuery(namespace="b"), caller=owner_a),
        admin.get_values(StoreScope.GLOBAL, "b", caller=owner_a),
        admin.get_values(StoreScope.CHAIN, "mock:in-b", caller=owner_a),
    ):
        with pytest.raises(NotFound):
            await attempt
    with pytest.raises(Conflict, match="taken"):
        await admin.save_mock(
            {"id": "in-b", "namespace": "a", "http": {"route": "/x"}}, caller=owner_a
        )
    assert (await admin.list_mocks(MockQuery(), caller=owner_a)) == ([], 0)
    with pytest.raises(Forbidden):
        await admin.save_mock({"namespace": "a", "http": {"route": "/v"}}, caller=viewer_a)
    with pytest.raises(Forbidden):
        await admin.merge_values(StoreScope.GLOBAL, "a", {"k": 1}, caller=viewer_a)
    assert await admin.get_values(StoreScope.GLOBAL, "a", caller=viewer_a) == {}
    record = await store.get_mock("in-b")
    assert record is not None and record.deleted_at is None and record.document["priority"] == 0


async def test_a_refused_change_stores_no_webhook() -> None:
    """A change rejected by validation or access leaves no delivery behind."""
    admin, store, intake = await build()
    before = await stored(store)
    with pytest.raises(Forbidden):
        await admin.delete_mock("in-b", caller=user(b=NamespaceRole.VIEWER))
    with pytest.raises(Exception, match="route"):
        await admin.save_mock({"namespace": "a", "http": {}}, caller=ANONYMOUS)
    assert await stored(store) == before
    assert len(intake.submitted) == 0
