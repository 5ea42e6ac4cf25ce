"""The Store contract for namespaces, users, tokens, change webhooks, backups and cleanup.

Memory and SQLite pass the same tests. A change that carries an outbox stores it in the same
transaction, and a change that is refused stores none of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from mockback.domain.accounts import (
    ApiToken,
    ChangeWebhook,
    Membership,
    Namespace,
    NamespaceRole,
    Role,
    User,
    WebhookScope,
)
from mockback.domain.deliveries import (
    Attempt,
    AttemptOutcome,
    CallbackType,
    Delivery,
    DeliveryRequest,
    DeliveryStatus,
)
from mockback.store.base import DeliveryQuery, DeliveryUpdate, MockQuery, Store
from mockback.store.memory import MemoryStore
from mockback.store.sqlite import SqliteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "db")
    await backend.open()
    yield backend
    await backend.close()


def delivery(delivery_id: str, namespace: str = "sandbox") -> Delivery:
    return Delivery(
        id=delivery_id,
        mock_id=None,
        namespace=namespace,
        request_id=None,
        callback_index=0,
        callback_id="w1",
        type=CallbackType.HTTP,
        target="http://example.test/hook",
        status=DeliveryStatus.PENDING,
        created_at=T0,
        due_at=T0,
        request=DeliveryRequest(
            method="POST", url="http://example.test/hook", headers=(), body=b"{}"
        ),
    )


def user(user_id: str, login: str, role: Role = Role.USER) -> User:
    return User(id=user_id, login=login, role=role, password_hash="scrypt$x", created_at=T0)


def webhook(
    webhook_id: str, namespace: str | None, operation: str = "mock.create"
) -> ChangeWebhook:
    return ChangeWebhook(
        id=webhook_id,
        scope=WebhookScope.NAMESPACE if namespace else WebhookScope.ADMIN,
        namespace=namespace,
        operation=operation,
        url="http://example.test/$.event.operation",
        headers=MappingProxyType({"X-A": "1"}),
        body={"op": "$.event.operation"},
        signing=MappingProxyType({"scheme": "github", "secret": "s3cret"}),
        created_at=T0,
        updated_at=T0,
    )


def mock_doc(
    mock_id: str, namespace: str = "sandbox", chain: str | None = None
) -> dict[str, object]:
    doc: dict[str, object] = {"id": mock_id, "namespace": namespace, "http": {"route": "/x"}}
    if chain:
        doc["chainId"] = chain
    return doc


async def delivery_ids(store: Store) -> set[str]:
    items, _ = await store.list_deliveries(DeliveryQuery(limit=1000))
    return {d.id for d in items}


async def test_namespaces_create_once_update_and_list(store: Store) -> None:
    """A name is created once (with its outbox); a second create is refused and stores nothing."""
    ns = Namespace(name="team", description="d", created_at=T0)
    assert await store.insert_namespace(ns, outbox=[delivery("dlv_1")])
    assert not await store.insert_namespace(ns, outbox=[delivery("dlv_2")])
    assert await delivery_ids(store) == {"dlv_1"}
    assert await store.get_namespace("team") == ns
    assert await store.update_namespace(replace(ns, description="new"), outbox=[delivery("dlv_3")])
    assert not await store.update_namespace(replace(ns, name="absent"), outbox=[delivery("dlv_4")])
    assert await delivery_ids(store) == {"dlv_1", "dlv_3"}
    got = await store.get_namespace("team")
    assert got is not None and got.description == "new"
    await store.insert_namespace(Namespace(name="alpha", created_at=T0))
    assert [n.name for n in await store.list_namespaces()] == ["alpha", "team"]


async def test_deleting_a_namespace_hides_its_mocks_and_drops_members_and_webhooks(
    store: Store,
) -> None:
    """Delete soft-deletes active mocks, removes members and namespace webhooks, keeps the rest."""
    await store.insert_namespace(Namespace(name="a", created_at=T0))
    await store.insert_namespace(Namespace(name="b", created_at=T0))
    await store.save_mock(mock_doc("m1", "a"), T0)
    await store.save_mock(mock_doc("m2", "b"), T0)
    await store.put_membership(Membership(namespace="a", user_id="u1", role=NamespaceRole.OWNER))
    await store.put_change_webhook(webhook("w", "a"))
    await store.put_change_webhook(webhook("w", None, "namespace.delete"))
    later = T0 + timedelta(hours=1)
    hidden = await store.delete_namespace("a", later, outbox=[delivery("dlv_1")])
    assert hidden is not None and [r.id for r in hidden] == ["m1"]
    assert hidden[0].deleted_at == later
    assert await store.get_namespace("a") is None
    assert [r.id for r in await store.active_mocks()] == ["m2"]
    assert await store.list_memberships(namespace="a") == []
    assert [(w.scope, w.id) for w in await store.list_change_webhooks()] == [
        (WebhookScope.ADMIN, "w")
    ]
    assert await store.delete_namespace("a", later, outbox=[delivery("dlv_2")]) is None
    assert await delivery_ids(store) == {"dlv_1"}


async def test_mock_changes_store_their_outbox_in_the_same_step(store: Store) -> None:
    """save_mock and set_mock_deleted store the outbox; deleting a missing mock stores none."""
    await store.save_mock(mock_doc("m"), T0, outbox=[delivery("dlv_1")])
    await store.set_mock_deleted("m", T0, T0, outbox=[delivery("dlv_2")])
    assert await store.set_mock_deleted("nope", T0, T0, outbox=[delivery("dlv_3")]) is None
    assert await delivery_ids(store) == {"dlv_1", "dlv_2"}


async def test_memberships_replace_filter_and_delete(store: Store) -> None:
    """A membership is replaced per (namespace, user), filtered both ways, and removable."""
    first = Membership(namespace="a", user_id="u1", role=NamespaceRole.VIEWER)
    assert await store.put_membership(first) is None
    second = replace(first, role=NamespaceRole.EDITOR)
    assert await store.put_membership(second, outbox=[delivery("dlv_1")]) == first
    await store.put_membership(Membership(namespace="b", user_id="u1", role=NamespaceRole.OWNER))
    await store.put_membership(Membership(namespace="a", user_id="u2", role=NamespaceRole.OWNER))
    assert [m.user_id for m in await store.list_memberships(namespace="a")] == ["u1", "u2"]
    assert [m.namespace for m in await store.list_memberships(user_id="u1")] == ["a", "b"]
    assert await store.list_memberships(namespace="a", user_id="u1") == [second]
    assert await store.delete_membership("a", "u1")
    assert not await store.delete_membership("a", "u1")
    assert await delivery_ids(store) == {"dlv_1"}


async def test_users_have_unique_logins_and_take_their_tokens_and_memberships_along(
    store: Store,
) -> None:
    """Logins are unique on create and update; deleting a user removes memberships and tokens."""
    assert await store.insert_user(user("usr_1", "ann"), outbox=[delivery("dlv_1")])
    assert not await store.insert_user(user("usr_2", "ann"), outbox=[delivery("dlv_2")])
    assert await store.insert_user(user("usr_2", "bob"))
    assert not await store.update_user(user("usr_2", "ann"), outbox=[delivery("dlv_3")])
    assert await store.update_user(replace(user("usr_2", "bea"), role=Role.ADMIN))
    assert await store.get_user_by_login("bea") == replace(user("usr_2", "bea"), role=Role.ADMIN)
    assert [u.login for u in await store.list_users()] == ["ann", "bea"]
    token = ApiToken(id="tok_1", user_id="usr_1", name="ci", token_hash="h1", created_at=T0)
    await store.insert_token(token)
    await store.put_membership(Membership(namespace="a", user_id="usr_1", role=NamespaceRole.OWNER))
    assert await store.delete_user("usr_1", outbox=[delivery("dlv_4")])
    assert not await store.delete_user("usr_1", outbox=[delivery("dlv_5")])
    assert await store.get_user("usr_1") is None
    assert await store.get_token("h1") is None
    assert await store.list_memberships(user_id="usr_1") == []
    assert await delivery_ids(store) == {"dlv_1", "dlv_4"}


async def test_tokens_are_found_by_hash_listed_per_user_and_revoked(store: Store) -> None:
    """Tokens are looked up by hash, listed per user oldest first, and revoked by id."""
    old = ApiToken(id="tok_1", user_id="u", name="a", token_hash="h1", created_at=T0)
    new = ApiToken(
        id="tok_2",
        user_id="u",
        name="login",
        token_hash="h2",
        created_at=T0 + timedelta(seconds=1),
        expires_at=T0 + timedelta(days=1),
    )
    await store.insert_token(new)
    await store.insert_token(old)
    assert await store.get_token("h2") == new
    assert await store.get_token("nope") is None
    assert [t.id for t in await store.list_tokens("u")] == ["tok_1", "tok_2"]
    assert await store.delete_token("tok_1")
    assert not await store.delete_token("tok_1")
    assert [t.id for t in await store.list_tokens("u")] == ["tok_2"]


async def test_change_webhooks_are_keyed_by_scope_namespace_and_id(store: Store) -> None:
    """The same id in two namespaces is two webhooks; a put returns the one it replaced."""
    a, b = webhook("w", "a"), webhook("w", "b")
    assert await store.put_change_webhook(a) is None
    assert await store.put_change_webhook(b) is None
    changed = replace(a, url="http://example.test/new", updated_at=T0 + timedelta(seconds=1))
    assert await store.put_change_webhook(changed) == a
    listed = await store.list_change_webhooks()
    assert sorted((w.namespace or "", w.url) for w in listed) == [
        ("a", "http://example.test/new"),
        ("b", b.url),
    ]
    assert await store.delete_change_webhook(WebhookScope.NAMESPACE, "b", "w")
    assert not await store.delete_change_webhook(WebhookScope.NAMESPACE, "b", "w")
    assert [w.namespace for w in await store.list_change_webhooks()] == ["a"]


async def test_chain_namespaces_names_the_namespaces_sharing_a_chain(store: Store) -> None:
    """A chain store belongs to the namespaces of the mocks that use it (own chain: mock:<id>)."""
    await store.save_mock(mock_doc("m1", "a", chain="c"), T0)
    await store.save_mock(mock_doc("m2", "b", chain="c"), T0)
    await store.save_mock(mock_doc("m3", "b"), T0)
    assert await store.chain_namespaces("c") == {"a", "b"}
    assert await store.chain_namespaces("mock:m3") == {"b"}
    assert await store.chain_namespaces("mock:m1") == set()
    assert await store.chain_namespaces("other") == set()


async def fill(store: Store) -> None:
    await store.insert_namespace(Namespace(name="a", description="x", created_at=T0))
    await store.save_mock(mock_doc("m1", "a", chain="c"), T0)
    await store.save_mock(mock_doc("m2", "a"), T0 + timedelta(seconds=1))
    await store.set_mock_deleted("m2", T0 + timedelta(seconds=2), T0 + timedelta(seconds=2))
    await store.merge_values("global", "a", {"n": 1, "o": {"p": [1, None]}})
    await store.merge_values("chain", "c", {"k": "v"})
    await store.put_change_webhook(webhook("w", "a"))
    await store.put_change_webhook(webhook("w2", None, "user.create"))
    await store.insert_user(user("usr_1", "ann", Role.ADMIN))
    await store.insert_token(
        ApiToken(id="tok_1", user_id="usr_1", name="ci", token_hash="h1", created_at=T0)
    )
    await store.put_membership(Membership(namespace="a", user_id="usr_1", role=NamespaceRole.OWNER))


async def test_snapshot_restored_into_an_empty_store_reads_back_the_same(
    store: Store, tmp_path: Path
) -> None:
    """Restoring a snapshot into another backend gives an identical snapshot."""
    await fill(store)
    snap = await store.snapshot()
    assert [r.id for r in snap.mocks] == ["m1", "m2"]
    other = SqliteStore(tmp_path / "other") if isinstance(store, MemoryStore) else MemoryStore()
    await other.open()
    try:
        await other.restore_snapshot(snap, outbox=[delivery("dlv_1")])
        assert await other.snapshot() == snap
        assert [r.id for r in await other.active_mocks()] == ["m1"]
        assert await other.get_values("global", "a") == {"n": 1, "o": {"p": [1, None]}}
        assert await delivery_ids(other) == {"dlv_1"}
    finally:
        await other.close()


async def test_restore_replaces_everything_but_keeps_deliveries(store: Store) -> None:
    """What is not in the snapshot is gone after a restore; deliveries stay."""
    snap = await store.snapshot()
    await fill(store)
    await store.insert_deliveries([delivery("dlv_kept")])
    await store.restore_snapshot(snap)
    assert await store.snapshot() == snap
    assert await store.list_mocks(MockQuery(include_deleted=True)) == ([], 0)
    assert await store.get_token("h1") is None
    assert await delivery_ids(store) == {"dlv_kept"}


async def test_purge_removes_only_what_ended_before_the_cutoff(store: Store) -> None:
    """Old soft-deleted mocks (and their own stores), old final deliveries, expired tokens go."""
    cutoff = T0 + timedelta(days=10)
    await store.save_mock(mock_doc("old"), T0)
    await store.save_mock(mock_doc("recent"), T0)
    await store.save_mock(mock_doc("live"), T0)
    await store.set_mock_deleted("old", T0, T0)
    await store.set_mock_deleted("recent", cutoff + timedelta(seconds=1), cutoff)
    await store.merge_values("mock", "old", {"x": 1})
    await store.merge_values("chain", "mock:old", {"x": 1})
    await store.merge_values("mock", "live", {"x": 1})
    await store.insert_deliveries([delivery("dlv_old"), delivery("dlv_new"), delivery("dlv_open")])
    attempt = Attempt(number=1, started_at=T0, duration_ms=1.0, outcome=AttemptOutcome.SUCCESS)
    await store.update_deliveries(
        [
            DeliveryUpdate(
                delivery_id=d_id,
                status=DeliveryStatus.SUCCEEDED,
                due_at=T0,
                finished_at=finished,
                attempt_count=1,
                error=None,
                attempt=attempt,
            )
            for d_id, finished in (("dlv_old", T0), ("dlv_new", cutoff + timedelta(hours=1)))
        ]
    )
    for token_id, expires in (("tok_gone", T0), ("tok_valid", cutoff + timedelta(days=1))):
        await store.insert_token(
            ApiToken(
                id=token_id,
                user_id="u",
                name="login",
                token_hash=token_id,
                created_at=T0,
                expires_at=expires,
            )
        )
    counts = await store.purge(cutoff, cutoff)
    assert (counts.mocks, counts.deliveries, counts.attempts, counts.tokens) == (1, 1, 1, 1)
    assert {r.id for r in (await store.list_mocks(MockQuery(include_deleted=True)))[0]} == {
        "recent",
        "live",
    }
    assert await delivery_ids(store) == {"dlv_new", "dlv_open"}
    assert await store.get_values("mock", "old") == {}
    assert await store.get_values("chain", "mock:old") == {}
    assert await store.get_values("mock", "live") == {"x": 1}
    assert [t.id for t in await store.list_tokens("u")] == ["tok_valid"]
