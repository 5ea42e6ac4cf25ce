"""Every admin error is ``{"error": "...", "details": [{"field", "problem"}]}`` with a 4xx."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mockback.domain.errors import FieldProblem, MockbackError
from mockback.web.admin.responses import JSONResponse


def error_response(
    status: int, message: str, details: list[dict[str, str]] | None = None
) -> JSONResponse:
    """The error shape of SPEC §12."""
    return JSONResponse({"error": message, "details": details or []}, status_code=status)


def _field(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        head = parts.pop(0)
        if not parts:
            return str(head)
        if head != "body":
            return f"{head}.{'.'.join(str(p) for p in parts)}"
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the error shape."""

    @app.exception_handler(MockbackError)
    async def _mockback(_: Request, exc: MockbackError) -> JSONResponse:
        return error_response(
            exc.status_code if exc.status_code < 500 else 400,
            exc.message,
            [d.as_json() for d in exc.details],
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            msg = str(err.get("msg", "is invalid"))
            if err.get("type") == "json_invalid":
                msg = "is not valid JSON"
            elif err.get("type") == "missing":
                msg = "is required"
            details.append(FieldProblem(field=_field(loc) or "body", problem=msg).as_json())
        first = details[0] if details else {"field": "body", "problem": "is invalid"}
        message = f"Invalid request: {first['field']} {first['problem']}."
        return error_response(400, message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))
