"""JSON in and out of the admin API, with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from mockback.domain.errors import FieldProblem, ValidationFailed


class JSONResponse(Response):
    """A response whose body is orjson-encoded."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode."""
        return orjson.dumps(content)


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON, whatever Content-Type the client sent."""
    raw = await request.body()
    if not raw.strip():
        raise ValidationFailed(
            "The request body is empty; a JSON document is expected.",
            (FieldProblem(field="body", problem="is required"),),
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(
            f"The request body is not valid JSON: {exc}.",
            (FieldProblem(field="body", problem=f"is not valid JSON: {exc}"),),
        ) from None
