"""The change webhook document (SPEC §8): validation into ``ChangeWebhook`` and the API view.

A namespace webhook listens to the operations of ``NAMESPACE_OPERATIONS``, an admin webhook
to those of ``ADMIN_OPERATIONS``; ``"*"`` listens to every operation of its scope. Licence
operations exist in the system Mockback is compatible with, but not in Mockback: they are
refused with a sentence that says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mockback.delivery.signing import SigningError, standard_webhooks_key
from mockback.domain.accounts import (
    ADMIN_OPERATIONS,
    LICENCE_OPERATIONS,
    NAMESPACE_OPERATIONS,
    ChangeWebhook,
    WebhookScope,
)
from mockback.domain.errors import FieldProblem, ValidationFailed
from mockback.schema.limits import Limits
from mockback.schema.mocks import SigningIn
from mockback.secrets import contains_mask, mask_callback, unmask_callback
from mockback.store.account_rows import webhook_document

_ID = r"^[A-Za-z0-9][A-Za-z0-9._:~-]{0,199}$"
_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE", "GET"})
ANY_OPERATION = "*"


class ChangeWebhookIn(BaseModel):
    """The body of POST .../webhooks."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=_ID)
    operation: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=8192)
    method: str = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    enabled: bool = True
    retryCount: int = Field(default=0, ge=0)
    retryDelay: float = Field(default=1.0, ge=0)
    timeout: float = Field(default=30.0, gt=0)
    signing: SigningIn | None = None
    # Accepted so that a GET answer can be sent back as is; not settable.
    namespace: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        upper = value.upper()
        if upper not in _METHODS:
            raise ValueError(f"must be one of {', '.join(sorted(_METHODS))}")
        return upper


def _problems(exc: ValidationError) -> tuple[FieldProblem, ...]:
    out = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "body"
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] == "extra_forbidden":
            message = "is not a field of a change webhook"
        out.append(FieldProblem(field=field, problem=message))
    return tuple(out)


def _operation_problem(scope: WebhookScope, operation: str) -> FieldProblem | None:
    if operation in LICENCE_OPERATIONS:
        return FieldProblem(
            field="operation",
            problem=f'"{operation}" is a licence operation; Mockback has no licences, '
            "so it never happens",
        )
    own, other, where = (
        (NAMESPACE_OPERATIONS, ADMIN_OPERATIONS, "/api/v1/admin/webhooks")
        if scope is WebhookScope.NAMESPACE
        else (ADMIN_OPERATIONS, NAMESPACE_OPERATIONS, "/api/v1/namespaces/{ns}/webhooks")
    )
    if operation == ANY_OPERATION or operation in own:
        return None
    if operation in other:
        return FieldProblem(
            field="operation",
            problem=f'"{operation}" is not a {scope.value} operation; configure it under {where}',
        )
    return FieldProblem(
        field="operation",
        problem=f'unknown operation "{operation}"; one of {", ".join(sorted(own))} or "*"',
    )


def _limit_problems(model: ChangeWebhookIn, limits: Limits) -> list[FieldProblem]:
    checks = (
        ("retryCount", model.retryCount, limits.max_retry_count),
        ("retryDelay", model.retryDelay, limits.max_retry_delay),
        ("timeout", model.timeout, limits.max_timeout),
    )
    return [
        FieldProblem(field=name, problem=f"exceeds the limit of {limit:g}")
        for name, value, limit in checks
        if value > limit
    ]


def _signing_problems(signing: SigningIn | None) -> list[FieldProblem]:
    if signing is None or signing.scheme != "standard-webhooks":
        return []
    secrets = [signing.secret] if isinstance(signing.secret, str) else signing.secret
    problems = []
    for secret in secrets:
        if secret.startswith(("env:", "$.")):
            continue
        try:
            standard_webhooks_key(secret)
        except SigningError as exc:
            problems.append(FieldProblem(field="signing.secret", problem=str(exc)))
    return problems


def parse_change_webhook(
    data: Any,
    *,
    scope: WebhookScope,
    namespace: str | None,
    now: datetime,
    before: ChangeWebhook | None,
    limits: Limits | None = None,
) -> ChangeWebhook:
    """Validate a webhook document; masked secrets are replaced by ``before``'s.

    ``before`` is the stored webhook with the same id, if any (its creation time is kept).
    """
    if not isinstance(data, Mapping):
        raise ValidationFailed(
            "A change webhook must be a JSON object.",
            (FieldProblem(field="", problem="expected an object"),),
        )
    data = unmask_callback(data, None if before is None else webhook_document(before))
    if contains_mask(data.get("signing")):
        raise ValidationFailed(
            "A masked secret has nothing stored behind it.",
            (
                FieldProblem(
                    field="signing.secret",
                    problem="is the mask of a secret, but no secret is stored; send the secret",
                ),
            ),
        )
    try:
        model = ChangeWebhookIn.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        raise ValidationFailed(_summary(problems), problems) from None
    found = [
        p
        for p in (
            _operation_problem(scope, model.operation),
            *_limit_problems(model, limits or Limits()),
            *_signing_problems(model.signing),
        )
        if p is not None
    ]
    if found:
        raise ValidationFailed(_summary(tuple(found)), tuple(found))
    return ChangeWebhook(
        id=model.id or f"whk_{uuid.uuid4().hex}",
        scope=scope,
        namespace=namespace if scope is WebhookScope.NAMESPACE else None,
        operation=model.operation,
        url=model.url,
        method=model.method,
        headers=MappingProxyType(dict(model.headers)),
        body=model.body,
        enabled=model.enabled,
        retry_count=model.retryCount,
        retry_delay=model.retryDelay,
        timeout=model.timeout,
        signing=None
        if model.signing is None
        else MappingProxyType(model.signing.model_dump(exclude_none=True)),
        created_at=before.created_at if before is not None else now,
        updated_at=now,
    )


def _summary(problems: tuple[FieldProblem, ...]) -> str:
    if len(problems) == 1:
        return f"Invalid change webhook: {problems[0].field} {problems[0].problem}."
    return f"Invalid change webhook: {len(problems)} problems."


def webhook_view(w: ChangeWebhook) -> dict[str, Any]:
    """The API shape of a change webhook (secrets masked)."""
    view = mask_callback(webhook_document(w))
    if w.scope is WebhookScope.NAMESPACE:
        view["namespace"] = w.namespace
    view["createdAt"] = w.created_at.isoformat().replace("+00:00", "Z")
    view["updatedAt"] = w.updated_at.isoformat().replace("+00:00", "Z")
    return view
