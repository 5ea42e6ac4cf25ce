"""Admin routes for deliveries: list, show with attempts, redeliver, wait, flush."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mockback.admin import iso
from mockback.delivery.engine import DeliveryEngine
from mockback.domain.deliveries import Delivery, DeliveryStatus
from mockback.domain.errors import FieldProblem, NotFound, ValidationFailed
from mockback.store.base import DeliveryQuery, Store
from mockback.store.rows import encode_body
from mockback.web.admin.responses import JSONResponse, json_body

router = APIRouter(tags=["deliveries"])


def delivery_view(d: Delivery, *, with_attempts: bool = True) -> dict[str, Any]:
    """The wire shape of SPEC §12 (no secrets: signing keys and broker options stay inside)."""
    view: dict[str, Any] = {
        "id": d.id,
        "mockId": d.mock_id,
        "namespace": d.namespace,
        "requestId": d.request_id,
        "callbackIndex": d.callback_index,
        "callbackId": d.callback_id,
        "type": d.type.value,
        "target": d.target,
        "status": d.status.value,
        "createdAt": iso(d.created_at),
        "dueAt": iso(d.due_at),
        "finishedAt": iso(d.finished_at),
        "attemptCount": d.attempt_count,
        "async": not d.sync,
        "request": {
            "method": d.request.method,
            "url": d.request.url,
            "headers": dict(d.request.headers),
            "body": encode_body(d.request.body),
        },
        "signing": None if not d.signing else {"scheme": d.signing.get("scheme")},
        "error": d.error,
    }
    if with_attempts:
        view["attempts"] = [
            {
                "number": a.number,
                "startedAt": iso(a.started_at),
                "durationMs": a.duration_ms,
                "outcome": a.outcome.value,
                "statusCode": a.status_code,
                "error": a.error,
                "responseHeaders": dict(a.response_headers),
                "responseBody": a.response_body,
                "truncated": a.truncated,
            }
            for a in d.attempts
        ]
    return view


def _statuses(raw: str | None, field: str) -> tuple[DeliveryStatus, ...]:
    if not raw:
        return ()
    out = []
    for part in raw.split(","):
        try:
            out.append(DeliveryStatus(part.strip()))
        except ValueError:
            allowed = ", ".join(s.value for s in DeliveryStatus)
            raise ValidationFailed(
                f"Unknown delivery status {part.strip()!r}.",
                (FieldProblem(field=field, problem=f"must be one of {allowed}"),),
            ) from None
    return tuple(out)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _engine(request: Request) -> DeliveryEngine:
    engine: DeliveryEngine = request.app.state.engine
    return engine


@router.get("/api/v1/deliveries", summary="List deliveries, newest first")
async def list_deliveries(
    request: Request,
    mockId: str | None = None,
    namespace: str | None = None,
    status: Annotated[str | None, Query(description="Comma-separated statuses")] = None,
    requestId: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Deliveries (without attempts; get one to see them)."""
    items, total = await _store(request).list_deliveries(
        DeliveryQuery(
            mock_id=mockId,
            namespace=namespace,
            statuses=_statuses(status, "status"),
            request_id=requestId,
            offset=offset,
            limit=limit,
        )
    )
    return JSONResponse(
        {
            "items": [delivery_view(d, with_attempts=False) for d in items],
            "total": total,
            "offset": offset,
            "limit": limit,
        }
    )


class WaitIn(BaseModel):
    """Body of POST /api/v1/deliveries/wait."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(default=1, ge=1, le=100_000)
    timeout: float = Field(default=10.0, ge=0, le=600)
    mockId: str | None = None
    namespace: str | None = None
    status: str | None = None


@router.post("/api/v1/deliveries/wait", summary="Wait until deliveries have ended")
async def wait(request: Request, body: Annotated[Any, Depends(json_body)]) -> JSONResponse:
    """Answer once ``count`` matching deliveries have ended (408 with what there is on timeout)."""
    try:
        params = WaitIn.model_validate(body)
    except ValidationError as exc:
        details = tuple(
            FieldProblem(field=".".join(str(p) for p in e["loc"]) or "body", problem=str(e["msg"]))
            for e in exc.errors()
        )
        raise ValidationFailed("Invalid wait request.", details) from None
    query = DeliveryQuery(
        mock_id=params.mockId,
        namespace=params.namespace,
        statuses=_statuses(params.status, "status"),
    )
    items, complete = await _engine(request).wait_for(query, params.count, params.timeout)
    full = []
    for d in items:
        loaded = await _store(request).get_delivery(d.id)
        full.append(delivery_view(loaded or d))
    if not complete:
        return JSONResponse(
            {
                "error": f"Only {len(items)} of {params.count} deliveries ended "
                f"within {params.timeout:g} s.",
                "details": [],
                "items": full,
            },
            status_code=408,
        )
    return JSONResponse({"items": full})


@router.post("/api/v1/deliveries/flush", summary="Run every scheduled delivery now")
async def flush(request: Request) -> JSONResponse:
    """Delays and retry waits end now (for tests)."""
    return JSONResponse({"flushed": await _engine(request).flush()})


@router.get("/api/v1/deliveries/{delivery_id}", summary="A delivery with its attempts")
async def get_delivery(request: Request, delivery_id: str) -> JSONResponse:
    """One delivery."""
    d = await _store(request).get_delivery(delivery_id)
    if d is None:
        raise NotFound(
            f'No delivery with id "{delivery_id}".',
            (FieldProblem(field="id", problem="does not exist"),),
        )
    return JSONResponse(delivery_view(d))


@router.post("/api/v1/deliveries/{delivery_id}/redeliver", summary="Send a delivery again")
async def redeliver(request: Request, delivery_id: str) -> JSONResponse:
    """Run the delivery again now (same id), with its retry policy counted afresh."""
    d = await _store(request).get_delivery(delivery_id)
    if d is None:
        raise NotFound(
            f'No delivery with id "{delivery_id}".',
            (FieldProblem(field="id", problem="does not exist"),),
        )
    if d.status is DeliveryStatus.SKIPPED:
        raise ValidationFailed(
            "A skipped delivery was never rendered; it cannot be redelivered.",
            (FieldProblem(field="id", problem="delivery was skipped"),),
        )
    reopened = await _engine(request).redeliver(d)
    return JSONResponse(delivery_view(reopened, with_attempts=False), status_code=202)
