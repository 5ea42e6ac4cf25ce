"""The mock document (SPEC §2): validation, unknown-field warnings and conversion to ``Mock``.

Every entry point that accepts a mock — ``POST``/``PUT``/``PATCH`` of the admin API, the
legacy ``/mock/create``, ``--mocks`` files, import — goes through :func:`parse_mock`, so they
accept and reject exactly the same things. Problems are collected, not stopped at the first:
a rejected mock answers every bad field at once.
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mockback.domain.callbacks import BackoffKind, CallbackSpec, Trigger
from mockback.domain.deliveries import CallbackType
from mockback.domain.errors import FieldProblem, ValidationFailed
from mockback.domain.mocks import (
    DEFAULT_NAMESPACE,
    AssertAction,
    ConditionSource,
    Extraction,
    FieldCondition,
    Mock,
    ResponseSpec,
    StoreScope,
)
from mockback.paths import parse_path
from mockback.schema.limits import Limits

_ID = r"^[A-Za-z0-9][A-Za-z0-9._:~-]{0,199}$"
_NAMESPACE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_METHOD = re.compile(r"^[A-Z]{1,20}$")
_CALLBACK_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE", "GET"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=False)


class ConditionIn(_Model):
    """One body, query or header condition."""

    path: str = Field(min_length=1, max_length=1000)
    assertAction: AssertAction = AssertAction.EQUALS
    value: Any = None

    @model_validator(mode="after")
    def _regex_compiles(self) -> ConditionIn:
        if self.assertAction is AssertAction.MATCHES:
            if not isinstance(self.value, str):
                raise ValueError(
                    "assertAction 'matches' needs a string value (a regular expression)"
                )
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"value is not a valid regular expression: {exc}") from None
        return self


class HttpIn(_Model):
    """How a request is matched."""

    route: str = Field(min_length=1, max_length=2000)
    httpMethod: str | None = None
    conditions: list[ConditionIn] = Field(default_factory=list, max_length=200)
    queryParams: list[ConditionIn] = Field(default_factory=list, max_length=200)
    header: list[ConditionIn] = Field(default_factory=list, max_length=200)

    @field_validator("route")
    @classmethod
    def _route_is_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        if any(ch.isspace() for ch in value) or "?" in value or "#" in value:
            raise ValueError("must be a path without spaces, '?' or '#'")
        return value

    @field_validator("conditions")
    @classmethod
    def _body_paths_parse(cls, value: list[ConditionIn]) -> list[ConditionIn]:
        # A path that does not parse would never match; say so when the mock is saved.
        for i, cond in enumerate(value):
            if parse_path(cond.path) is None:
                raise ValueError(
                    f"conditions[{i}].path {cond.path!r} is not a path like $.a.b[0]['key']"
                )
        return value

    @field_validator("httpMethod")
    @classmethod
    def _method_token(cls, value: str | None) -> str | None:
        if value is None or value == "" or value.upper() in {"ANY", "*"}:
            return None
        upper = value.upper()
        if not _METHOD.match(upper):
            raise ValueError("must be an HTTP method such as GET or POST")
        return upper


class ResponseIn(_Model):
    """What a matched mock answers."""

    statusCode: int = Field(default=200, ge=100, le=599)
    headers: dict[str, str | list[str]] = Field(default_factory=dict)
    payload: Any = None
    delay: int = Field(default=0, ge=0)


class ExtractIn(_Model):
    """Values written to the stores before the response renders."""

    gStore: dict[str, Any] = Field(default_factory=dict)
    cStore: dict[str, Any] = Field(default_factory=dict)
    mStore: dict[str, Any] = Field(default_factory=dict)


class ExtractorIn(_Model):
    """The older extraction form."""

    from_: Literal["body", "header", "query", "path"] = Field(alias="from")
    jsonPath: str = Field(min_length=1)
    toStore: Literal["global", "chain", "mock"] = "global"
    key: str = Field(min_length=1)


class SigningIn(_Model):
    """How a callback is signed (SPEC §5)."""

    scheme: Literal["standard-webhooks", "stripe", "github", "hmac-sha256"]
    secret: str | list[str]
    header: str | None = None
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str | None = None

    @field_validator("secret")
    @classmethod
    def _secret_present(cls, value: str | list[str]) -> str | list[str]:
        secrets = [value] if isinstance(value, str) else value
        if not secrets or any(not s for s in secrets):
            raise ValueError("must be a non-empty string or list of non-empty strings")
        return value


class CallbackIn(_Model):
    """One item of webhooks[] (SPEC §4)."""

    type: CallbackType = CallbackType.HTTP
    trigger: Trigger = Trigger.ALWAYS
    condition: str | None = Field(default=None, max_length=4096)
    delay: float = Field(default=0.0, ge=0)
    timeout: float = Field(default=30.0, gt=0)
    retryCount: int = Field(default=0, ge=0)
    retryDelay: float = Field(default=1.0, ge=0)
    backoff: BackoffKind = BackoffKind.FIXED
    maxRetryDelay: float = Field(default=300.0, ge=0)
    jitter: bool = False
    async_: bool = Field(default=True, alias="async")
    headers: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    id: str | None = Field(default=None, min_length=1, max_length=200)
    dependsOn: list[str] = Field(default_factory=list)
    signing: SigningIn | None = None
    url: str | None = None
    method: str = "POST"
    kafkaBrokers: str | None = None
    kafkaTopic: str | None = None
    kafkaKey: str | None = None
    kafkaUseSASL: bool = False
    kafkaUsername: str | None = None
    kafkaPassword: str | None = None
    kafkaUseTLS: bool = False
    rabbitURL: str | None = None
    rabbitExchange: str = ""
    rabbitRoutingKey: str = ""
    rabbitQueue: str = ""
    rabbitMandatory: bool = False

    @field_validator("trigger", mode="before")
    @classmethod
    def _empty_trigger_is_always(cls, value: Any) -> Any:
        return "always" if value in (None, "") else value

    @field_validator("method")
    @classmethod
    def _callback_method(cls, value: str) -> str:
        upper = value.upper()
        if upper not in _CALLBACK_METHODS:
            raise ValueError(f"must be one of {', '.join(sorted(_CALLBACK_METHODS))}")
        return upper

    @model_validator(mode="after")
    def _required_by_type(self) -> CallbackIn:
        if self.type is CallbackType.HTTP and not self.url:
            raise ValueError("url is required for an http callback")
        if self.type is CallbackType.KAFKA and (not self.kafkaBrokers or not self.kafkaTopic):
            raise ValueError("kafkaBrokers and kafkaTopic are required for a kafka callback")
        if self.type is CallbackType.RABBITMQ:
            if not self.rabbitURL:
                raise ValueError("rabbitURL is required for a rabbitmq callback")
            if not self.rabbitURL.startswith(("amqp://", "amqps://")):
                raise ValueError("rabbitURL must start with amqp:// or amqps://")
        if self.kafkaUseSASL and not self.kafkaUsername:
            raise ValueError("kafkaUsername is required when kafkaUseSASL is true")
        return self


class MockIn(_Model):
    """A whole mock document."""

    id: str | None = Field(default=None, pattern=_ID)
    namespace: str = Field(default=DEFAULT_NAMESPACE, pattern=_NAMESPACE)
    chainId: str | None = Field(default=None, min_length=1, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=100)
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    http: HttpIn
    response: ResponseIn = Field(default_factory=ResponseIn)
    extract: ExtractIn | None = None
    extractors: list[ExtractorIn] = Field(default_factory=list)
    webhooks: list[CallbackIn] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------
# unknown fields


def _known_names(model: type[BaseModel]) -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        names.append(info.alias or name)
    return names


def _unknown_fields(model: BaseModel, prefix: str) -> list[tuple[str, str]]:
    """(field path, message) for every field the document carries that Mockback does not model."""
    found: list[tuple[str, str]] = []
    known = _known_names(type(model))
    for name in model.model_extra or {}:
        path = f"{prefix}.{name}" if prefix else name
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        hint = f', did you mean "{close[0]}"?' if close else ""
        found.append((path, f'"{path}": unknown field{hint}'))
    for name in type(model).model_fields:
        value = getattr(model, name)
        alias = type(model).model_fields[name].alias or name
        path = f"{prefix}.{alias}" if prefix else alias
        if isinstance(value, BaseModel):
            found.extend(_unknown_fields(value, path))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    found.extend(_unknown_fields(item, f"{path}[{i}]"))
    return found


# --------------------------------------------------------------------------------------------
# errors


def _loc_to_field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _problems(exc: ValidationError) -> tuple[FieldProblem, ...]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = str(err["msg"])
        message = message.removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required"
        problems.append(FieldProblem(field=_loc_to_field(loc), problem=message))
    return tuple(problems)


def _check_limits(mock: MockIn, limits: Limits) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if len(mock.webhooks) > limits.max_callbacks:
        problems.append(
            FieldProblem(
                field="webhooks",
                problem=f"has {len(mock.webhooks)} callbacks; the limit is {limits.max_callbacks}",
            )
        )
    if mock.response.delay > limits.max_response_delay_ms:
        problems.append(
            FieldProblem(
                field="response.delay",
                problem=f"exceeds the limit of {limits.max_response_delay_ms} ms",
            )
        )
    ids: set[str] = set()
    for i, cb in enumerate(mock.webhooks):
        where = f"webhooks[{i}]"
        checks: list[tuple[str, float, float, str]] = [
            ("retryCount", cb.retryCount, limits.max_retry_count, ""),
            ("timeout", cb.timeout, limits.max_timeout, " s"),
            ("retryDelay", cb.retryDelay, limits.max_retry_delay, " s"),
            ("maxRetryDelay", cb.maxRetryDelay, limits.max_retry_delay, " s"),
            ("delay", cb.delay, limits.max_delay, " s"),
        ]
        for name, value, limit, unit in checks:
            if value > limit:
                problems.append(
                    FieldProblem(
                        field=f"{where}.{name}", problem=f"exceeds the limit of {limit:g}{unit}"
                    )
                )
        if cb.id is not None:
            if cb.id in ids:
                problems.append(
                    FieldProblem(field=f"{where}.id", problem=f'duplicate id "{cb.id}"')
                )
            ids.add(cb.id)
    return problems


# --------------------------------------------------------------------------------------------
# conversion


def _conditions(http: HttpIn) -> tuple[FieldCondition, ...]:
    out: list[FieldCondition] = []
    for source, items in (
        (ConditionSource.BODY, http.conditions),
        (ConditionSource.QUERY, http.queryParams),
        (ConditionSource.HEADER, http.header),
    ):
        for c in items:
            out.append(
                FieldCondition(source=source, path=c.path, action=c.assertAction, value=c.value)
            )
    return tuple(out)


_EXTRACTOR_ROOTS = {
    "body": "$.req",
    "header": "$.reqHeader",
    "query": "$.queryParams",
    "path": "$.pathParams",
}
_SCOPES = {"global": StoreScope.GLOBAL, "chain": StoreScope.CHAIN, "mock": StoreScope.MOCK}


def _extractor_expression(ex: ExtractorIn) -> str:
    """The older form's path, rewritten as a template expression of the right root."""
    root = _EXTRACTOR_ROOTS[ex.from_]
    path = ex.jsonPath.strip()
    if path.startswith("$"):
        path = path[1:]
    if path and not path.startswith((".", "[")):
        path = "." + path
    expression = root + path
    if ex.from_ == "header" and not path.endswith("]"):
        expression += "[0]"
    return expression


def _extractions(mock: MockIn) -> tuple[Extraction, ...]:
    out: list[Extraction] = []
    if mock.extract is not None:
        for scope, values in (
            (StoreScope.GLOBAL, mock.extract.gStore),
            (StoreScope.CHAIN, mock.extract.cStore),
            (StoreScope.MOCK, mock.extract.mStore),
        ):
            for key, expression in values.items():
                out.append(Extraction(scope=scope, key=key, expression=expression))
    for ex in mock.extractors:
        out.append(
            Extraction(scope=_SCOPES[ex.toStore], key=ex.key, expression=_extractor_expression(ex))
        )
    return tuple(out)


_TRANSPORT_FIELDS = (
    "kafkaBrokers",
    "kafkaTopic",
    "kafkaKey",
    "kafkaUseSASL",
    "kafkaUsername",
    "kafkaPassword",
    "kafkaUseTLS",
    "rabbitURL",
    "rabbitExchange",
    "rabbitRoutingKey",
    "rabbitQueue",
    "rabbitMandatory",
)


def _callback(index: int, cb: CallbackIn) -> CallbackSpec:
    options = {name: getattr(cb, name) for name in _TRANSPORT_FIELDS}
    return CallbackSpec(
        index=index,
        type=cb.type,
        trigger=cb.trigger,
        condition=cb.condition,
        delay=cb.delay,
        timeout=cb.timeout,
        retry_count=cb.retryCount,
        retry_delay=cb.retryDelay,
        backoff=cb.backoff,
        max_retry_delay=cb.maxRetryDelay,
        jitter=cb.jitter,
        is_async=cb.async_,
        id=cb.id,
        depends_on=tuple(cb.dependsOn),
        url=cb.url,
        method=cb.method,
        headers=MappingProxyType(dict(cb.headers)),
        body=cb.body,
        signing=None if cb.signing is None else MappingProxyType(cb.signing.model_dump()),
        options=MappingProxyType(options),
    )


def _response(resp: ResponseIn) -> ResponseSpec:
    headers = tuple(
        (name, (value,) if isinstance(value, str) else tuple(value))
        for name, value in resp.headers.items()
    )
    return ResponseSpec(
        status_code=resp.statusCode, headers=headers, payload=resp.payload, delay_ms=resp.delay
    )


class ParsedMock:
    """A validated mock: the document to store, the domain value, and the warnings."""

    __slots__ = ("document", "model", "warnings")

    def __init__(self, model: MockIn, document: dict[str, Any], warnings: list[str]) -> None:
        self.model = model
        self.document = document
        self.warnings = warnings

    @property
    def id(self) -> str:
        """The mock's id (generated when the document had none)."""
        return str(self.document["id"])

    def to_mock(
        self,
        *,
        created_at: datetime,
        updated_at: datetime,
        deleted_at: datetime | None = None,
        seq: int = 0,
    ) -> Mock:
        """The domain value, stamped with the store's bookkeeping."""
        m = self.model
        return Mock(
            id=self.id,
            namespace=m.namespace,
            chain_id=m.chainId,
            tags=tuple(m.tags),
            priority=m.priority,
            route=m.http.route,
            method=m.http.httpMethod,
            conditions=_conditions(m.http),
            response=_response(m.response),
            extractions=_extractions(m),
            callbacks=tuple(_callback(i, cb) for i, cb in enumerate(m.webhooks)),
            created_at=created_at,
            updated_at=updated_at,
            deleted_at=deleted_at,
            seq=seq,
            document=MappingProxyType(self.document),
        )


def parse_mock(
    data: Any, *, strict: bool = False, limits: Limits | None = None, id_override: str | None = None
) -> ParsedMock:
    """Validate a mock document; raise ``ValidationFailed`` listing every problem.

    ``strict`` rejects unknown fields instead of warning about them. ``id_override`` is the id
    taken from a URL (PUT): a different id in the body is an error.
    """
    limits = limits or Limits()
    if not isinstance(data, Mapping):
        raise ValidationFailed(
            "A mock must be a JSON object.",
            (FieldProblem(field="", problem=f"expected an object, got {type(data).__name__}"),),
        )
    data = dict(data)
    if id_override is not None:
        if data.get("id") not in (None, id_override):
            raise ValidationFailed(
                "The mock's id does not match the URL.",
                (
                    FieldProblem(
                        field="id", problem=f'must be "{id_override}" (the id in the URL) or absent'
                    ),
                ),
            )
        data["id"] = id_override
    try:
        model = MockIn.model_validate(data)
    except ValidationError as exc:
        errors = _problems(exc)
        raise ValidationFailed(_summary(errors), errors) from None
    problems = _check_limits(model, limits)
    unknown = _unknown_fields(model, "")
    if strict and unknown:
        problems.extend(FieldProblem(field=path, problem=msg) for path, msg in unknown)
    if problems:
        raise ValidationFailed(_summary(tuple(problems)), tuple(problems))
    if model.id is None:
        model.id = str(uuid.uuid4())
    document = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return ParsedMock(model, document, [msg for _, msg in unknown])


def _summary(problems: tuple[FieldProblem, ...]) -> str:
    if len(problems) == 1:
        p = problems[0]
        return f"Invalid mock: {p.field or 'body'} {p.problem}."
    return f"Invalid mock: {len(problems)} problems."
