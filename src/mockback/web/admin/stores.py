"""Admin routes for the global (per namespace) and chain stores."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from mockback.admin import Admin
from mockback.domain.mocks import DEFAULT_NAMESPACE, StoreScope
from mockback.web.admin.auth import Caller
from mockback.web.admin.responses import JSONResponse, json_body

router = APIRouter(tags=["stores"])
Values = Annotated[Any, Depends(json_body)]


def _admin(request: Request) -> Admin:
    admin: Admin = request.app.state.admin
    return admin


@router.get("/api/v1/stores/global", summary="The global store of a namespace")
async def get_global(
    request: Request, caller: Caller, namespace: str = DEFAULT_NAMESPACE
) -> JSONResponse:
    """All values of the namespace's global store ($.gS)."""
    return JSONResponse(
        await _admin(request).get_values(StoreScope.GLOBAL, namespace, caller=caller)
    )


@router.post("/api/v1/stores/global", summary="Merge values into a global store")
async def post_global(
    request: Request, caller: Caller, values: Values, namespace: str = DEFAULT_NAMESPACE
) -> JSONResponse:
    """Set keys (others untouched); answers the whole store."""
    return JSONResponse(
        await _admin(request).merge_values(StoreScope.GLOBAL, namespace, values, caller=caller)
    )


@router.delete("/api/v1/stores/global/{key}", status_code=204, summary="Delete a global key")
async def delete_global(
    request: Request, caller: Caller, key: str, namespace: str = DEFAULT_NAMESPACE
) -> Response:
    """Remove one key of a global store."""
    await _admin(request).delete_value(StoreScope.GLOBAL, namespace, key, caller=caller)
    return Response(status_code=204)


@router.get("/api/v1/stores/chain/{chain_id}", summary="A chain store")
async def get_chain(request: Request, caller: Caller, chain_id: str) -> JSONResponse:
    """All values of a chain store ($.cS)."""
    return JSONResponse(await _admin(request).get_values(StoreScope.CHAIN, chain_id, caller=caller))


@router.post("/api/v1/stores/chain/{chain_id}", summary="Merge values into a chain store")
async def post_chain(
    request: Request, caller: Caller, chain_id: str, values: Values
) -> JSONResponse:
    """Set keys (others untouched); answers the whole store."""
    return JSONResponse(
        await _admin(request).merge_values(StoreScope.CHAIN, chain_id, values, caller=caller)
    )


@router.delete(
    "/api/v1/stores/chain/{chain_id}/{key}", status_code=204, summary="Delete a chain key"
)
async def delete_chain(request: Request, caller: Caller, chain_id: str, key: str) -> Response:
    """Remove one key of a chain store."""
    await _admin(request).delete_value(StoreScope.CHAIN, chain_id, key, caller=caller)
    return Response(status_code=204)
