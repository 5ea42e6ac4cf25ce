"""The Store seam: everything Mockback keeps, behind a few async methods.

Backends (``memory``, ``sqlite``; PostgreSQL later) pass one shared contract-test suite
(``tests/integration/test_store_contract.py``). Rows cross this seam as plain records; the
domain shapes are built above it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from mockback.domain.accounts import (
    ApiToken,
    ChangeWebhook,
    Membership,
    Namespace,
    User,
    WebhookScope,
)
from mockback.domain.deliveries import Attempt, Delivery, DeliveryStatus
from mockback.domain.values import value


@dataclass(frozen=True, slots=True, kw_only=True)
class MockRecord:
    """A stored mock: its document and the store's bookkeeping."""

    id: str  # the mock id
    namespace: str  # copied from the document, for filtering
    document: Mapping[str, Any]  # the validated document (API shape)
    created_at: datetime  # first creation; kept on overwrite
    updated_at: datetime  # last change
    deleted_at: datetime | None  # soft delete
    seq: int  # creation order (older mocks win ties)


@dataclass(frozen=True, slots=True, kw_only=True)
class SavedMock:
    """Result of saving a mock."""

    record: MockRecord  # what is stored now
    overwritten: bool  # an existing mock had this id
    before: MockRecord | None  # the previous version, when overwritten


@dataclass(frozen=True, slots=True, kw_only=True)
class MockQuery:
    """Filters and paging of a mock listing."""

    namespace: str | None = None  # only this namespace
    tags: tuple[str, ...] = ()  # mocks carrying every one of these tags
    search: str | None = None  # case-insensitive substring of id or route
    include_deleted: bool = False  # list soft-deleted mocks too
    offset: int = 0  # skip this many (ordered by creation)
    limit: int = 100  # at most this many


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryQuery:
    """Filters and paging of a delivery listing (newest first)."""

    mock_id: str | None = None  # only deliveries of this mock
    namespace: str | None = None  # only this namespace
    statuses: tuple[DeliveryStatus, ...] = ()  # only these statuses (any when empty)
    request_id: str | None = None  # only those planned by this request
    offset: int = 0  # skip this many
    limit: int = 100  # at most this many


@value
class DeliveryUpdate:
    """A delivery's new state after an attempt or an admin action."""

    delivery_id: str  # which delivery
    status: DeliveryStatus  # new status
    due_at: datetime  # next attempt not before
    finished_at: datetime | None  # set when final
    attempt_count: int  # attempts so far
    error: str | None  # why it did not succeed
    attempt: Attempt | None = None  # the attempt to append, if one was made


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Everything a backup holds, read in one transaction (deliveries are not part of it)."""

    namespaces: tuple[Namespace, ...]  # every namespace
    mocks: tuple[MockRecord, ...]  # every mock, soft-deleted ones too
    values: Mapping[tuple[str, str], Mapping[str, Any]]  # (scope, owner) -> store values
    webhooks: tuple[ChangeWebhook, ...]  # namespace and admin change webhooks
    users: tuple[User, ...]  # with their password hashes
    tokens: tuple[ApiToken, ...]  # token hashes only
    memberships: tuple[Membership, ...]  # who belongs where


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeCounts:
    """What a cleanup removed."""

    mocks: int  # soft-deleted mocks (and their mock and own chain stores)
    deliveries: int  # final deliveries
    attempts: int  # attempts of those deliveries
    tokens: int  # expired login tokens


class Store(Protocol):
    """What Mockback needs from storage."""

    async def open(self) -> None:
        """Connect and create or migrate the schema."""

    async def close(self) -> None:
        """Finish pending writes and release the connection."""

    # mocks

    async def save_mock(
        self, document: Mapping[str, Any], now: datetime, *, outbox: Sequence[Delivery] = ()
    ) -> SavedMock:
        """Create or overwrite the mock ``document["id"]`` (an overwrite also restores it).

        ``outbox``: deliveries stored in the same transaction (the change's webhooks).
        """

    async def get_mock(self, mock_id: str) -> MockRecord | None:
        """A mock by id, deleted or not."""

    async def list_mocks(self, query: MockQuery) -> tuple[list[MockRecord], int]:
        """One page of mocks and the total that match the filters."""

    async def active_mocks(self) -> list[MockRecord]:
        """Every mock that is not deleted, in creation order."""

    async def set_mock_deleted(
        self,
        mock_id: str,
        deleted_at: datetime | None,
        now: datetime,
        *,
        outbox: Sequence[Delivery] = (),
    ) -> MockRecord | None:
        """Soft-delete (a time) or restore (None) a mock; None when it does not exist.

        ``outbox``: deliveries stored in the same transaction, only when the mock exists.
        """

    # key-value stores ($.gS per namespace, $.cS per chain, $.mS per mock)

    async def get_values(self, scope: str, owner: str) -> dict[str, Any]:
        """All values of one store."""

    async def merge_values(
        self, scope: str, owner: str, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Set these keys (others untouched) and return the whole store."""

    async def delete_value(self, scope: str, owner: str, key: str) -> bool:
        """Remove one key; False when it was absent."""

    async def all_values(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every store, for warming the in-process cache at start."""

    # deliveries (the outbox)

    async def insert_deliveries(self, deliveries: list[Delivery]) -> None:
        """Store new deliveries; when this returns they survive a crash."""

    async def update_deliveries(self, updates: list[DeliveryUpdate]) -> None:
        """Apply state changes (and append attempts), all in one transaction."""

    async def write_deliveries(self, new: list[Delivery], updates: list[DeliveryUpdate]) -> None:
        """Insert ``new``, then apply ``updates``, in one transaction (durable on return)."""

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        """A delivery with its attempts."""

    async def list_deliveries(self, query: DeliveryQuery) -> tuple[list[Delivery], int]:
        """A page of deliveries, newest first, without attempts, and the total."""

    async def unfinished_deliveries(
        self, *, due_before: datetime | None, limit: int, exclude: frozenset[str] = frozenset()
    ) -> list[Delivery]:
        """Deliveries not yet final (oldest due first), optionally only those due by a time."""

    async def count_unfinished(self) -> int:
        """How many deliveries have not ended (waiting, due, scheduled or being attempted)."""

    async def flush_scheduled(self, now: datetime) -> int:
        """Make every scheduled delivery due now; return how many."""

    async def reopen_delivery(self, delivery: Delivery) -> None:
        """Make a delivery run again (redeliver): status, due time, error and retry state."""

    async def release_delivery(self, delivery: Delivery) -> None:
        """Rewrite a delivery that waited for others: status, times, error, target, request
        and options (attempts are kept; unknown ids are ignored)."""

    # namespaces

    async def get_namespace(self, name: str) -> Namespace | None:
        """A namespace by name."""

    async def list_namespaces(self) -> list[Namespace]:
        """Every namespace, by name."""

    async def insert_namespace(
        self, namespace: Namespace, *, outbox: Sequence[Delivery] = ()
    ) -> bool:
        """Create a namespace (with its change deliveries); False when the name is taken."""

    async def update_namespace(
        self, namespace: Namespace, *, outbox: Sequence[Delivery] = ()
    ) -> bool:
        """Change a namespace's description; False when it does not exist."""

    async def delete_namespace(
        self, name: str, now: datetime, *, outbox: Sequence[Delivery] = ()
    ) -> list[MockRecord] | None:
        """Remove a namespace, its members and webhooks, soft-deleting its active mocks.

        Returns the mocks it soft-deleted; None (and nothing written) when it does not exist.
        """

    async def chain_namespaces(self, chain_id: str) -> set[str]:
        """Namespaces of the mocks (deleted ones too) whose chain store is ``chain_id``."""

    # members

    async def put_membership(
        self, membership: Membership, *, outbox: Sequence[Delivery] = ()
    ) -> Membership | None:
        """Add a member or change their role; returns the previous membership."""

    async def delete_membership(self, namespace: str, user_id: str) -> bool:
        """Remove a member; False when they were not one."""

    async def list_memberships(
        self, *, namespace: str | None = None, user_id: str | None = None
    ) -> list[Membership]:
        """Memberships, filtered by namespace and/or user."""

    # users and tokens

    async def insert_user(self, user: User, *, outbox: Sequence[Delivery] = ()) -> bool:
        """Create a user; False (nothing written) when the login is taken."""

    async def update_user(self, user: User, *, outbox: Sequence[Delivery] = ()) -> bool:
        """Rewrite a user (login, role, password hash); False when absent or the login is taken."""

    async def delete_user(self, user_id: str, *, outbox: Sequence[Delivery] = ()) -> bool:
        """Remove a user with their memberships and tokens; False when absent."""

    async def get_user(self, user_id: str) -> User | None:
        """A user by id."""

    async def get_user_by_login(self, login: str) -> User | None:
        """A user by login."""

    async def list_users(self) -> list[User]:
        """Every user, oldest first."""

    async def insert_token(self, token: ApiToken) -> None:
        """Keep a token (its hash)."""

    async def get_token(self, token_hash: str) -> ApiToken | None:
        """A token by the hash of its secret."""

    async def list_tokens(self, user_id: str) -> list[ApiToken]:
        """A user's tokens, oldest first."""

    async def delete_token(self, token_id: str) -> bool:
        """Revoke a token; False when absent."""

    # change webhooks

    async def put_change_webhook(self, webhook: ChangeWebhook) -> ChangeWebhook | None:
        """Create or replace a change webhook (keyed by scope, namespace, id); the previous one."""

    async def delete_change_webhook(
        self, scope: WebhookScope, namespace: str | None, webhook_id: str
    ) -> bool:
        """Remove a change webhook; False when absent."""

    async def list_change_webhooks(self) -> list[ChangeWebhook]:
        """Every change webhook, oldest first."""

    # backups and cleanup

    async def snapshot(self) -> Snapshot:
        """A consistent copy of everything a backup holds."""

    async def restore_snapshot(
        self, snapshot: Snapshot, *, outbox: Sequence[Delivery] = ()
    ) -> None:
        """Replace everything a backup holds by the snapshot, in one transaction."""

    async def purge(self, before: datetime, now: datetime) -> PurgeCounts:
        """Remove mocks soft-deleted and deliveries ended before ``before``, and expired tokens."""
