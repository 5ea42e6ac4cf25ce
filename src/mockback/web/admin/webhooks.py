"""Admin routes for change webhooks, under ``/api/v1`` and (same behaviour) ``/ui/api``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from mockback.domain.accounts import WebhookScope
from mockback.notifications import Notifications
from mockback.web.admin.auth import Caller
from mockback.web.admin.responses import JSONResponse, json_body

router = APIRouter(tags=["change webhooks"])
Body = Annotated[Any, Depends(json_body)]
_PREFIXES = ("/api/v1", "/ui/api")


def _notifications(request: Request) -> Notifications:
    notifications: Notifications = request.app.state.notifications
    return notifications


async def list_namespace_webhooks(request: Request, caller: Caller, namespace: str) -> JSONResponse:
    """The namespace's change webhooks (secrets masked)."""
    items = await _notifications(request).list_webhooks(caller, WebhookScope.NAMESPACE, namespace)
    return JSONResponse({"items": items, "total": len(items)})


async def save_namespace_webhook(
    request: Request, caller: Caller, namespace: str, body: Body
) -> JSONResponse:
    """Create, or update the webhook with the same id (owners and admins)."""
    view, created = await _notifications(request).save_webhook(
        caller, WebhookScope.NAMESPACE, namespace, body
    )
    return JSONResponse(view, status_code=201 if created else 200)


async def delete_namespace_webhook(
    request: Request, caller: Caller, namespace: str, webhook_id: str
) -> Response:
    """Remove one (owners and admins)."""
    await _notifications(request).delete_webhook(
        caller, WebhookScope.NAMESPACE, namespace, webhook_id
    )
    return Response(status_code=204)


async def list_admin_webhooks(request: Request, caller: Caller) -> JSONResponse:
    """The admin change webhooks (admins only; secrets masked)."""
    items = await _notifications(request).list_webhooks(caller, WebhookScope.ADMIN, None)
    return JSONResponse({"items": items, "total": len(items)})


async def save_admin_webhook(request: Request, caller: Caller, body: Body) -> JSONResponse:
    """Create, or update the webhook with the same id (admins only)."""
    view, created = await _notifications(request).save_webhook(
        caller, WebhookScope.ADMIN, None, body
    )
    return JSONResponse(view, status_code=201 if created else 200)


async def delete_admin_webhook(request: Request, caller: Caller, webhook_id: str) -> Response:
    """Remove one (admins only)."""
    await _notifications(request).delete_webhook(caller, WebhookScope.ADMIN, None, webhook_id)
    return Response(status_code=204)


for _prefix in _PREFIXES:
    _ns = f"{_prefix}/namespaces/{{namespace}}/webhooks"
    _admin = f"{_prefix}/admin/webhooks"
    router.add_api_route(
        _ns, list_namespace_webhooks, methods=["GET"], summary="List namespace webhooks"
    )
    router.add_api_route(
        _ns,
        save_namespace_webhook,
        methods=["POST"],
        summary="Create or update a namespace webhook",
    )
    router.add_api_route(
        f"{_ns}/{{webhook_id}}",
        delete_namespace_webhook,
        methods=["DELETE"],
        status_code=204,
        summary="Delete a namespace webhook",
    )
    router.add_api_route(
        _admin, list_admin_webhooks, methods=["GET"], summary="List admin webhooks"
    )
    router.add_api_route(
        _admin, save_admin_webhook, methods=["POST"], summary="Create or update an admin webhook"
    )
    router.add_api_route(
        f"{_admin}/{{webhook_id}}",
        delete_admin_webhook,
        methods=["DELETE"],
        status_code=204,
        summary="Delete an admin webhook",
    )
