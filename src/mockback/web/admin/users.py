"""Admin routes for users (admins only; a user may read ``me`` and set their own password)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from mockback.web.admin.auth import Caller, accounts_of
from mockback.web.admin.responses import JSONResponse, json_body

router = APIRouter(tags=["users"])
Body = Annotated[Any, Depends(json_body)]


@router.post("/api/v1/users", status_code=201, summary="Create a user")
async def create_user(request: Request, caller: Caller, body: Body) -> JSONResponse:
    """``{"login", "password", "role": "admin|user"}`` -> the user (never the password)."""
    return JSONResponse(await accounts_of(request).create_user(caller, body), status_code=201)


@router.get("/api/v1/users", summary="List users")
async def list_users(request: Request, caller: Caller) -> JSONResponse:
    """Every user, oldest first."""
    items = await accounts_of(request).list_users(caller)
    return JSONResponse({"items": items, "total": len(items)})


@router.get("/api/v1/users/{user_id}", summary="A user and their namespaces")
async def get_user(request: Request, caller: Caller, user_id: str) -> JSONResponse:
    """One user; ``me`` is the caller."""
    return JSONResponse(await accounts_of(request).get_user(caller, user_id))


@router.patch("/api/v1/users/{user_id}", summary="Change a user's login or role")
async def update_user(request: Request, caller: Caller, user_id: str, body: Body) -> JSONResponse:
    """``{"login"?, "role"?}``; the last admin cannot stop being one."""
    return JSONResponse(await accounts_of(request).update_user(caller, user_id, body))


@router.delete("/api/v1/users/{user_id}", status_code=204, summary="Delete a user")
async def delete_user(request: Request, caller: Caller, user_id: str) -> Response:
    """The user, their memberships and tokens go."""
    await accounts_of(request).delete_user(caller, user_id)
    return Response(status_code=204)


@router.post("/api/v1/users/{user_id}/password", summary="Set a user's password")
async def set_password(request: Request, caller: Caller, user_id: str, body: Body) -> JSONResponse:
    """``{"password", "currentPassword"?}``: admins for anyone, users for themselves."""
    return JSONResponse(await accounts_of(request).set_password(caller, user_id, body))
