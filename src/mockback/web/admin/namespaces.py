"""Admin routes for namespaces and their members."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from mockback.namespaces import Namespaces
from mockback.web.admin.auth import Caller
from mockback.web.admin.responses import JSONResponse, json_body

router = APIRouter(tags=["namespaces"])
Body = Annotated[Any, Depends(json_body)]


def _namespaces(request: Request) -> Namespaces:
    namespaces: Namespaces = request.app.state.namespaces
    return namespaces


@router.get("/api/v1/namespaces", summary="List namespaces")
async def list_namespaces(request: Request, caller: Caller) -> JSONResponse:
    """The namespaces the caller belongs to (admins: all)."""
    items = await _namespaces(request).list_namespaces(caller)
    return JSONResponse({"items": items, "total": len(items)})


@router.post("/api/v1/namespaces", status_code=201, summary="Create a namespace")
async def create_namespace(request: Request, caller: Caller, body: Body) -> JSONResponse:
    """``{"name", "description"?}`` (admins only)."""
    return JSONResponse(await _namespaces(request).create(caller, body), status_code=201)


@router.get("/api/v1/namespaces/{namespace}", summary="A namespace")
async def get_namespace(request: Request, caller: Caller, namespace: str) -> JSONResponse:
    """One namespace."""
    return JSONResponse(await _namespaces(request).get(caller, namespace))


@router.patch("/api/v1/namespaces/{namespace}", summary="Change a namespace's description")
async def update_namespace(
    request: Request, caller: Caller, namespace: str, body: Body
) -> JSONResponse:
    """``{"description"}`` (owners and admins)."""
    return JSONResponse(await _namespaces(request).update(caller, namespace, body))


@router.delete("/api/v1/namespaces/{namespace}", summary="Delete a namespace")
async def delete_namespace(request: Request, caller: Caller, namespace: str) -> JSONResponse:
    """Members and webhooks go; mocks are soft-deleted (admins only)."""
    return JSONResponse(await _namespaces(request).delete(caller, namespace))


@router.get("/api/v1/namespaces/{namespace}/users", summary="Members of a namespace")
async def list_members(request: Request, caller: Caller, namespace: str) -> JSONResponse:
    """``userId``, ``login`` and ``role`` of each member."""
    items = await _namespaces(request).members(caller, namespace)
    return JSONResponse({"items": items, "total": len(items)})


@router.post("/api/v1/namespaces/{namespace}/users", status_code=201, summary="Add a member")
async def add_member(request: Request, caller: Caller, namespace: str, body: Body) -> JSONResponse:
    """``{"userId" or "login", "role": "owner|editor|viewer"}`` (owners and admins)."""
    return JSONResponse(
        await _namespaces(request).add_member(caller, namespace, body), status_code=201
    )


@router.delete(
    "/api/v1/namespaces/{namespace}/users/{user_id}", status_code=204, summary="Remove a member"
)
async def remove_member(request: Request, caller: Caller, namespace: str, user_id: str) -> Response:
    """The user leaves the namespace (owners and admins)."""
    await _namespaces(request).remove_member(caller, namespace, user_id)
    return Response(status_code=204)
