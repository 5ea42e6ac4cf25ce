"""Admin routes for mocks: create-or-overwrite, list, get, put, patch, delete, restore."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from mockback.admin import Admin, MockChange
from mockback.schema.mocks import MockIn
from mockback.store.base import MockQuery
from mockback.web.admin.auth import Caller
from mockback.web.admin.responses import JSONResponse, json_body

router = APIRouter(tags=["mocks"])

_MOCK_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MockIn"}}},
    }
}

MockBody = Annotated[Any, Depends(json_body)]
Strict = Annotated[bool | None, Query(description="Reject unknown fields instead of warning")]


def _admin(request: Request) -> Admin:
    admin: Admin = request.app.state.admin
    return admin


def _answer(change: MockChange, *, created_status: int = 201) -> JSONResponse:
    status = 200 if change.overwritten else created_status
    return JSONResponse(
        {"overwritten": change.overwritten, "mock": change.mock, "warnings": change.warnings},
        status_code=status,
    )


@router.post("/api/v1/mocks", openapi_extra=_MOCK_BODY, summary="Create or overwrite a mock")
async def create_mock(
    request: Request, caller: Caller, mock: MockBody, strict: Strict = None
) -> JSONResponse:
    """Create a mock, or overwrite the mock with the same id."""
    return _answer(await _admin(request).save_mock(mock, caller=caller, strict=strict))


@router.post("/mock/create", openapi_extra=_MOCK_BODY, summary="Create or overwrite (legacy path)")
async def create_mock_legacy(
    request: Request, caller: Caller, mock: MockBody, strict: Strict = None
) -> JSONResponse:
    """The older path of create-or-overwrite."""
    return _answer(await _admin(request).save_mock(mock, caller=caller, strict=strict))


@router.get("/api/v1/mocks", summary="List mocks")
async def list_mocks(
    request: Request,
    caller: Caller,
    namespace: str | None = None,
    tags: Annotated[list[str] | None, Query(description="Comma-separated or repeated")] = None,
    search: str | None = None,
    includeDeleted: bool = False,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Mocks in creation order, filtered and paged."""
    tag_list = tuple(t for raw in (tags or []) for t in raw.split(",") if t)
    items, total = await _admin(request).list_mocks(
        MockQuery(
            namespace=namespace,
            tags=tag_list,
            search=search,
            include_deleted=includeDeleted,
            offset=offset,
            limit=limit,
        ),
        caller=caller,
    )
    return JSONResponse({"items": items, "total": total, "offset": offset, "limit": limit})


@router.get("/api/v1/mocks/{mock_id}", summary="Get a mock")
async def get_mock(request: Request, caller: Caller, mock_id: str) -> JSONResponse:
    """One mock, deleted or not."""
    return JSONResponse(await _admin(request).get_mock(mock_id, caller=caller))


@router.put("/api/v1/mocks/{mock_id}", openapi_extra=_MOCK_BODY, summary="Replace a mock")
async def put_mock(
    request: Request, caller: Caller, mock_id: str, mock: MockBody, strict: Strict = None
) -> JSONResponse:
    """Replace an existing mock as a whole."""
    change = await _admin(request).replace_mock(mock_id, mock, caller=caller, strict=strict)
    return _answer(change, created_status=200)


@router.patch("/api/v1/mocks/{mock_id}", summary="Patch a mock (JSON merge patch)")
async def patch_mock(
    request: Request, caller: Caller, mock_id: str, patch: MockBody, strict: Strict = None
) -> JSONResponse:
    """Change some fields of a mock; the result is validated as a whole."""
    change = await _admin(request).patch_mock(mock_id, patch, caller=caller, strict=strict)
    return _answer(change, created_status=200)


@router.delete("/api/v1/mocks/{mock_id}", summary="Soft-delete a mock")
async def delete_mock(request: Request, caller: Caller, mock_id: str) -> JSONResponse:
    """Hide a mock: it stops matching until restored."""
    change = await _admin(request).delete_mock(mock_id, caller=caller)
    return JSONResponse({"mock": change.mock})


@router.post("/api/v1/mocks/{mock_id}/restore", summary="Restore a soft-deleted mock")
async def restore_mock(request: Request, caller: Caller, mock_id: str) -> JSONResponse:
    """Bring a deleted mock back."""
    change = await _admin(request).restore_mock(mock_id, caller=caller)
    return JSONResponse({"mock": change.mock})


def mock_schema() -> dict[str, Any]:
    """The JSON schema of a mock document, for the OpenAPI document."""
    return MockIn.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
