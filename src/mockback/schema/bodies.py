"""Small admin request bodies (users, namespaces, members, tokens): strict models, one error shape."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from mockback.domain.errors import FieldProblem, ValidationFailed


class Body(BaseModel):
    """A request body that refuses fields it does not know."""

    model_config = ConfigDict(extra="forbid")


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any, what: str) -> M:
    """Validate a body; a ValidationFailed names every bad field (and never echoes a value)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"]) or "body"
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "missing":
                message = "is required"
            elif err["type"] == "extra_forbidden":
                message = "is not a field here"
            problems.append(FieldProblem(field=field, problem=message))
        first = problems[0]
        raise ValidationFailed(
            f"Invalid {what}: {first.field} {first.problem}.", tuple(problems)
        ) from None
