"""Authentication at the admin API's door: the caller dependency, login and API tokens.

With ``AUTH_MODE=off`` every caller is the anonymous admin. With ``AUTH_MODE=token`` every
admin route but the open ones (``/health*``, ``/metrics``, ``/openapi.json``, ``/docs``,
``POST /api/v1/login``) needs ``Authorization: Bearer <token>``; a missing or wrong token is
a 401 in the usual error shape. Mock-serving routes never pass through here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response

from mockback.accounts import Accounts
from mockback.domain.access import ANONYMOUS, Principal, Unauthorized
from mockback.web.admin.errors import error_response
from mockback.web.admin.responses import JSONResponse, json_body

router = APIRouter(tags=["auth"])
public_router = APIRouter(tags=["auth"])
Body = Annotated[Any, Depends(json_body)]


def accounts_of(request: Request) -> Accounts:
    """The accounts service of the app."""
    accounts: Accounts = request.app.state.accounts
    return accounts


async def current_caller(request: Request) -> Principal:
    """The caller of this request (FastAPI resolves it once per request)."""
    if request.app.state.auth_mode != "token":
        return ANONYMOUS
    return await accounts_of(request).authenticate(request.headers.get("authorization"))


Caller = Annotated[Principal, Depends(current_caller)]


def install(app: FastAPI) -> None:
    """Answer 401s with ``WWW-Authenticate: Bearer`` as well as the error shape."""

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        answer = error_response(401, exc.message, [d.as_json() for d in exc.details])
        answer.headers["WWW-Authenticate"] = "Bearer"
        return answer


@public_router.post("/api/v1/login", summary="Log in: a token for a login and password")
async def login(request: Request, body: Body) -> JSONResponse:
    """``{"login", "password"}`` -> ``{"token", "expiresAt"}``; 401 when they do not match."""
    return JSONResponse(await accounts_of(request).login(body))


@router.post("/api/v1/tokens", status_code=201, summary="Make an API token")
async def create_token(request: Request, caller: Caller, body: Body) -> JSONResponse:
    """``{"name"}`` -> ``{"id", "name", "token", ...}``: the token is shown in this answer only."""
    return JSONResponse(await accounts_of(request).create_token(caller, body), status_code=201)


@router.get("/api/v1/tokens", summary="The caller's API tokens")
async def list_tokens(request: Request, caller: Caller) -> JSONResponse:
    """Ids, names and times (never the tokens themselves)."""
    items = await accounts_of(request).list_tokens(caller)
    return JSONResponse({"items": items, "total": len(items)})


@router.delete("/api/v1/tokens/{token_id}", status_code=204, summary="Revoke an API token")
async def delete_token(request: Request, caller: Caller, token_id: str) -> Response:
    """The token stops working at once."""
    await accounts_of(request).delete_token(caller, token_id)
    return Response(status_code=204)
