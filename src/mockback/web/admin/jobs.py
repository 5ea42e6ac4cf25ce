"""Admin routes for jobs (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mockback.domain.access import require_admin
from mockback.jobs import Jobs
from mockback.web.admin.auth import Caller
from mockback.web.admin.responses import JSONResponse

router = APIRouter(tags=["jobs"])


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


@router.get("/api/v1/admin/jobs", summary="List jobs")
async def list_jobs(request: Request, caller: Caller) -> JSONResponse:
    """The jobs that can be run."""
    require_admin(caller, "Jobs")
    items = [{"name": name} for name in _jobs(request).names()]
    return JSONResponse({"items": items, "total": len(items)})


@router.post("/api/v1/admin/jobs/{name}/run", summary="Run a job now")
async def run_job(request: Request, caller: Caller, name: str) -> JSONResponse:
    """Run it and answer its summary (``job.run`` fires too)."""
    return JSONResponse(await _jobs(request).run(name, caller=caller))
