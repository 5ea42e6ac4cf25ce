"""The backup document: a snapshot written as JSON reads back the same; bad files say why."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson
import pytest

from mockback.backup_format import counts, from_json, to_json
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
from mockback.domain.errors import ValidationFailed
from mockback.store.base import MockRecord, Snapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)

SNAPSHOT = Snapshot(
    namespaces=(Namespace(name="a", description="d", created_at=T0),),
    mocks=(
        MockRecord(
            id="m",
            namespace="a",
            document={"id": "m", "http": {"route": "/m"}},
            created_at=T0,
            updated_at=T0,
            deleted_at=T0,
            seq=3,
        ),
    ),
    values={("global", "a"): {"n": 1}},
    webhooks=(
        ChangeWebhook(
            id="w",
            scope=WebhookScope.NAMESPACE,
            namespace="a",
            operation="*",
            url="http://x/",
            headers=MappingProxyType({"H": "v"}),
            signing=MappingProxyType({"scheme": "github", "secret": "s"}),
            created_at=T0,
            updated_at=T0,
        ),
    ),
    users=(
        User(id="usr_1", login="ann", role=Role.ADMIN, password_hash="scrypt$h", created_at=T0),
    ),
    tokens=(
        ApiToken(
            id="tok_1", user_id="usr_1", name="ci", token_hash="abc", created_at=T0, expires_at=T0
        ),
    ),
    memberships=(Membership(namespace="a", user_id="usr_1", role=NamespaceRole.EDITOR),),
)


def test_a_snapshot_survives_the_round_trip_through_json_bytes() -> None:
    """to_json, encoded and decoded, then from_json gives the same snapshot."""
    doc = to_json(SNAPSHOT, backup_id="bak_1", created_at=T0)
    assert (
        doc["counts"]
        == counts(SNAPSHOT)
        == {
            "namespaces": 1,
            "mocks": 1,
            "stores": 1,
            "webhooks": 1,
            "users": 1,
            "tokens": 1,
            "memberships": 1,
        }
    )
    assert from_json(orjson.loads(orjson.dumps(doc))) == SNAPSHOT


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"hello": 1}, ""),  # not a backup at all
        ({"format": "mockback-backup", "version": 99}, "version"),  # from the future
        ({"format": "mockback-backup", "version": 1, "mocks": [{"id": "m"}]}, "mocks"),
        (
            {"format": "mockback-backup", "version": 1, "users": [{"id": "u", "role": "king"}]},
            "users",
        ),
    ],
)
def test_an_unreadable_backup_names_the_part_that_is_wrong(doc: Any, field: str) -> None:
    """A file that is not a backup, or is malformed, is a 400 naming the section."""
    with pytest.raises(ValidationFailed) as caught:
        from_json(doc)
    assert caught.value.details[0].field == field
