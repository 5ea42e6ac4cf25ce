"""Validation of change webhooks: operations per scope, licences refused, secrets write-only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mockback.domain.accounts import LICENCE_OPERATIONS, WebhookScope
from mockback.domain.errors import ValidationFailed
from mockback.schema.change_webhooks import parse_change_webhook, webhook_view
from mockback.secrets import MASK

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)


def parse(data: Any, scope: WebhookScope = WebhookScope.NAMESPACE, before: Any = None) -> Any:
    namespace = "team" if scope is WebhookScope.NAMESPACE else None
    return parse_change_webhook(data, scope=scope, namespace=namespace, now=T1, before=before)


def test_defaults_and_generated_id() -> None:
    """A minimal webhook gets an id, POST, enabled, no retries, 30 s timeout."""
    w = parse({"operation": "mock.create", "url": "http://x/"})
    assert w.id.startswith("whk_") and w.method == "POST" and w.enabled
    assert (w.retry_count, w.retry_delay, w.timeout) == (0, 1.0, 30.0)
    assert w.namespace == "team" and w.body is None and w.created_at == T1


@pytest.mark.parametrize(
    ("scope", "operation", "problem"),
    [
        (WebhookScope.NAMESPACE, "user.create", "configure it under /api/v1/admin/webhooks"),
        (WebhookScope.ADMIN, "mock.create", "configure it under /api/v1/namespaces/{ns}"),
        (WebhookScope.NAMESPACE, "mock.explode", 'unknown operation "mock.explode"'),
        (WebhookScope.ADMIN, "license.create", "Mockback has no licences"),  # seed operation
    ],
)
def test_operations_belong_to_their_scope(
    scope: WebhookScope, operation: str, problem: str
) -> None:
    """An operation of the other scope, an unknown one, or a licence one is a 400 that says why."""
    with pytest.raises(ValidationFailed) as caught:
        parse({"operation": operation, "url": "http://x/"}, scope)
    assert caught.value.details[0].field == "operation"
    assert problem in caught.value.details[0].problem


def test_every_licence_operation_is_refused() -> None:
    """No licence operation is accepted in either scope."""
    for operation in sorted(LICENCE_OPERATIONS):
        for scope in WebhookScope:
            with pytest.raises(ValidationFailed, match="licence"):
                parse({"operation": operation, "url": "http://x/"}, scope)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retryCount", 101),  # over the limit of 100
        ("timeout", 301),  # over 300 s
        ("method", "BREW"),  # not an HTTP method callbacks use
        ("surprise", 1),  # unknown field
        ("url", ""),  # empty target
    ],
)
def test_bad_fields_are_named(field: str, value: Any) -> None:
    """Each bad field is reported by name."""
    with pytest.raises(ValidationFailed) as caught:
        parse({"operation": "mock.create", "url": "http://x/", field: value})
    assert caught.value.details[0].field == field


def test_a_standard_webhooks_secret_must_decode() -> None:
    """A standard-webhooks secret that is not whsec_<base64> is refused at save time."""
    with pytest.raises(ValidationFailed) as caught:
        parse(
            {
                "operation": "*",
                "url": "http://x/",
                "signing": {"scheme": "standard-webhooks", "secret": "whsec_not base64!"},
            }
        )
    assert caught.value.details[0].field == "signing.secret"


def test_secrets_are_masked_and_kept_when_the_mask_comes_back() -> None:
    """The view masks signing.secret; sending the view back keeps the stored secret."""
    first = parse(
        {
            "id": "w",
            "operation": "*",
            "url": "http://x/",
            "signing": {"scheme": "github", "secret": "canary"},
        }
    )
    view = webhook_view(first)
    assert view["signing"]["secret"] == MASK and "canary" not in str(view)
    again = parse_change_webhook(
        view, scope=WebhookScope.NAMESPACE, namespace="team", now=T1, before=first
    )
    assert again.signing is not None and again.signing["secret"] == "canary"
    assert again.created_at == first.created_at


def test_a_mask_without_a_stored_secret_is_refused() -> None:
    """Sending the mask for a new webhook is an error, not a secret."""
    with pytest.raises(ValidationFailed, match="masked"):
        parse(
            {
                "operation": "*",
                "url": "http://x/",
                "signing": {"scheme": "github", "secret": MASK},
            }
        )
