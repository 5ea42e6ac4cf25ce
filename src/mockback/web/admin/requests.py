"""Admin routes for the request logs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from mockback.domain.access import Principal, require_admin
from mockback.request_log import RequestLog
from mockback.visibility import scoped_namespace, visible_entries
from mockback.web.admin.auth import Caller
from mockback.web.admin.responses import JSONResponse

router = APIRouter(tags=["requests"])


def _log(request: Request) -> RequestLog:
    log: RequestLog = request.app.state.request_log
    return log


def _scoped(
    caller: Principal,
    namespace: str | None,
    offset: int,
    limit: int,
    fetch: Callable[[int, int, str | None], tuple[list[dict[str, Any]], int]],
) -> tuple[list[dict[str, Any]], int]:
    """A page of the entries of the caller's namespaces (the logs are bounded and in memory)."""
    if caller.is_admin or scoped_namespace(caller, namespace) is not None:
        return fetch(offset, limit, namespace)
    everything, _ = fetch(0, sys.maxsize, None)
    mine = visible_entries(caller, everything)
    return [dict(e) for e in mine[offset : offset + limit]], len(mine)


@router.get("/api/v1/requests", summary="Served requests, newest first")
async def served(
    request: Request,
    caller: Caller,
    mockId: str | None = None,
    namespace: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Requests a mock answered: matched mock, status, deliveries planned."""
    log = _log(request)
    items, total = _scoped(
        caller,
        namespace,
        offset,
        limit,
        lambda o, n, ns: log.list_served(offset=o, limit=n, mock_id=mockId, namespace=ns),
    )
    return JSONResponse({"items": items, "total": total, "offset": offset, "limit": limit})


@router.get("/api/v1/undefined-requests", summary="Unmatched requests, newest first")
async def unmatched(
    request: Request,
    caller: Caller,
    namespace: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Requests no mock matched, with the closest mocks and why each failed."""
    log = _log(request)
    items, total = _scoped(
        caller,
        namespace,
        offset,
        limit,
        lambda o, n, ns: log.list_unmatched(offset=o, limit=n, namespace=ns),
    )
    return JSONResponse({"items": items, "total": total, "offset": offset, "limit": limit})


@router.delete("/api/v1/requests", status_code=204, summary="Clear both request logs")
async def clear(request: Request, caller: Caller) -> Response:
    """Forget logged requests (served and unmatched); admins only, as it spans namespaces."""
    require_admin(caller, "Clearing the request logs")
    _log(request).clear()
    return Response(status_code=204)
