"""Admin routes for the request logs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from mockback.request_log import RequestLog
from mockback.web.admin.responses import JSONResponse

router = APIRouter(tags=["requests"])


def _log(request: Request) -> RequestLog:
    log: RequestLog = request.app.state.request_log
    return log


@router.get("/api/v1/requests", summary="Served requests, newest first")
async def served(
    request: Request,
    mockId: str | None = None,
    namespace: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Requests a mock answered: matched mock, status, deliveries planned."""
    items, total = _log(request).list_served(
        offset=offset, limit=limit, mock_id=mockId, namespace=namespace
    )
    return JSONResponse({"items": items, "total": total, "offset": offset, "limit": limit})


@router.get("/api/v1/undefined-requests", summary="Unmatched requests, newest first")
async def unmatched(
    request: Request,
    namespace: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Requests no mock matched, with the closest mocks and why each failed."""
    items, total = _log(request).list_unmatched(offset=offset, limit=limit, namespace=namespace)
    return JSONResponse({"items": items, "total": total, "offset": offset, "limit": limit})


@router.delete("/api/v1/requests", status_code=204, summary="Clear both request logs")
async def clear(request: Request) -> Response:
    """Forget logged requests (served and unmatched)."""
    _log(request).clear()
    return Response(status_code=204)
