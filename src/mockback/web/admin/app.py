"""Builds the admin FastAPI app and the list of its exact paths."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import Route

import mockback
from mockback.admin import Admin
from mockback.matching import MockIndex
from mockback.request_log import RequestLog
from mockback.web.admin import (
    auth,
    backups,
    deliveries,
    errors,
    health,
    jobs,
    mocks,
    namespaces,
    requests,
    stores,
    users,
    webhooks,
)
from mockback.web.admin.limit import BodyLimit


def build_admin_app(
    *,
    admin: Admin,
    request_log: RequestLog,
    index: MockIndex,
    ready: Callable[[], bool],
    max_body: int,
    store: Any,
    engine: Any,
    metrics: Any,
    extra_routers: list[Any] | None = None,
    auth_mode: str = "off",
    accounts: Any = None,
    namespaces_service: Any = None,
    notifications: Any = None,
    backups_service: Any = None,
    jobs_service: Any = None,
) -> tuple[Any, list[re.Pattern[str]]]:
    """The admin ASGI app (body limit applied) and the regexes of its paths.

    Every router but health and login gets the caller dependency, so with AUTH_MODE=token no
    admin route is open by mistake.
    """
    app = FastAPI(
        title="Mockback admin API",
        version=mockback.__version__,
        description="Mocks that call back: mocks, stores, deliveries, request logs.",
    )
    app.state.admin = admin
    app.state.request_log = request_log
    app.state.index = index
    app.state.ready = ready
    app.state.store = store
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.auth_mode = auth_mode
    app.state.accounts = accounts
    app.state.namespaces = namespaces_service
    app.state.notifications = notifications
    app.state.backups = backups_service
    app.state.jobs = jobs_service
    errors.install(app)
    auth.install(app)
    open_routers = [health.router, auth.public_router]
    guarded = [
        mocks.router,
        requests.router,
        stores.router,
        deliveries.router,
        namespaces.router,
        users.router,
        auth.router,
        webhooks.router,
        backups.router,
        jobs.router,
        *(extra_routers or []),
    ]
    for router in open_routers:
        app.include_router(router)
    for router in guarded:
        app.include_router(router, dependencies=[Depends(auth.current_caller)])
    routers = [*open_routers, *guarded]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            mock_schema = mocks.mock_schema()
            for name, definition in mock_schema.pop("$defs", {}).items():
                components[name] = definition
            components["MockIn"] = mock_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    routes = [*app.routes, *(r for router in routers for r in router.routes)]
    patterns = [r.path_regex for r in routes if isinstance(r, APIRoute | Route)]
    return BodyLimit(app, max_body), patterns
