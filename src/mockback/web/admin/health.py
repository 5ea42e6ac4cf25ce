"""Health endpoints: liveness, readiness, and a summary."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

import mockback
from mockback.web.admin.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/health", summary="Summary")
async def health(request: Request) -> JSONResponse:
    """Status, version and counts."""
    ready = bool(request.app.state.ready())
    return JSONResponse(
        {
            "status": "ok" if ready else "starting",
            "version": mockback.__version__,
            "mocks": len(request.app.state.index),
        },
        status_code=200 if ready else 503,
    )


@router.get("/health/live", summary="Liveness")
async def live() -> JSONResponse:
    """The process answers."""
    return JSONResponse({"status": "ok"})


@router.get("/health/ready", summary="Readiness")
async def ready(request: Request) -> JSONResponse:
    """The store is open and mocks are loaded."""
    ok = bool(request.app.state.ready())
    return JSONResponse({"status": "ok" if ok else "starting"}, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    """Requests served/unmatched, deliveries by type and outcome, attempt latency, backlog, pool."""
    from mockback.metrics import CONTENT_TYPE

    metrics = request.app.state.metrics
    # Read at scrape time from the store: past the engine's memory cap the backlog waits there.
    metrics.backlog.set(await request.app.state.engine.backlog())
    return Response(metrics.render(), media_type=CONTENT_TYPE)
