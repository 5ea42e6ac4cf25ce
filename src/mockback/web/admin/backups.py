"""Admin routes for backups (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mockback.backups import Backups
from mockback.web.admin.auth import Caller
from mockback.web.admin.responses import JSONResponse

router = APIRouter(tags=["backups"])


def _backups(request: Request) -> Backups:
    backups: Backups = request.app.state.backups
    return backups


@router.post("/api/v1/admin/backups", status_code=201, summary="Make a backup")
async def create_backup(request: Request, caller: Caller) -> JSONResponse:
    """A consistent snapshot of everything but deliveries, kept as JSON."""
    return JSONResponse(await _backups(request).create(caller), status_code=201)


@router.get("/api/v1/admin/backups", summary="List backups")
async def list_backups(request: Request, caller: Caller) -> JSONResponse:
    """Every backup kept, oldest first."""
    items = await _backups(request).list_backups(caller)
    return JSONResponse({"items": items, "total": len(items)})


@router.post("/api/v1/admin/backups/{backup_id}/restore", summary="Restore a backup")
async def restore_backup(request: Request, caller: Caller, backup_id: str) -> JSONResponse:
    """Replace namespaces, mocks, stores, webhooks, users, tokens and members, in one go."""
    return JSONResponse(await _backups(request).restore(caller, backup_id))
