"""Admin routes for deliveries: list, show with attempts, redeliver, wait, flush."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mockback.admin import iso
from mockback.delivery.engine import DeliveryEngine
from mockback.delivery.sender import DELIVERY_ID_HEADER, DEPTH_HEADER
from mockback.domain.access import Need, require_admin
from mockback.domain.deliveries import CallbackType, Delivery, DeliveryStatus
from mockback.domain.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from mockback.store.base import DeliveryQuery, Store
from mockback.store.rows import encode_body
from mockback.visibility import check_delivery, visible_deliveries, wait_namespace
from mockback.web.admin.auth import Caller
from mockback.web.admin.responses import JSONResponse, json_body

router = APIRouter(tags=["deliveries"])


def _sent_headers(d: Delivery) -> dict[str, str]:
    headers = dict(d.request.headers)
    if d.type is CallbackType.HTTP:
        # Added to every attempt; signatures too, but those change per attempt.
        headers[DELIVERY_ID_HEADER] = d.id
        headers[DEPTH_HEADER] = str(d.depth)
    return headers


def delivery_view(
    d: Delivery, *, with_attempts: bool = True, running: bool = False
) -> dict[str, Any]:
    """The wire shape of SPEC §12 (no secrets: signing keys and broker options stay inside)."""
    status = DeliveryStatus.IN_PROGRESS if running and not d.status.is_final else d.status
    view: dict[str, Any] = {
        "id": d.id,
        "mockId": d.mock_id,
        "namespace": d.namespace,
        "requestId": d.request_id,
        "callbackIndex": d.callback_index,
        "callbackId": d.callback_id,
        "type": d.type.value,
        "target": d.target,
        "status": status.value,
        "createdAt": iso(d.created_at),
        "dueAt": iso(d.due_at),
        "finishedAt": iso(d.finished_at),
        "attemptCount": d.attempt_count,
        "async": not d.sync,
        "request": {
            "method": d.request.method,
            "url": d.request.url,
            "headers": _sent_headers(d),
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
    caller: Caller,
    mockId: str | None = None,
    namespace: str | None = None,
    status: Annotated[str | None, Query(description="Comma-separated statuses")] = None,
    requestId: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Deliveries (without attempts; get one to see them)."""
    engine = _engine(request)
    items, total = await visible_deliveries(
        _store(request),
        DeliveryQuery(
            mock_id=mockId,
            namespace=namespace,
            statuses=_statuses(status, "status"),
            request_id=requestId,
            offset=offset,
            limit=limit,
        ),
        caller,
    )
    return JSONResponse(
        {
            "items": [
                delivery_view(d, with_attempts=False, running=engine.is_running(d.id))
                for d in items
            ],
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


@router.post(
    "/api/v1/deliveries/wait",
    summary="Wait until deliveries have ended",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": WaitIn.model_json_schema()}}}
    },
)
async def wait(request: Request, caller: Caller) -> JSONResponse:
    """Answer once ``count`` matching deliveries have ended (408 with what there is on timeout)."""
    body = await json_body(request) if (await request.body()).strip() else {}
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
        namespace=await wait_namespace(_store(request), caller, params.namespace, params.mockId),
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
async def flush(request: Request, caller: Caller) -> JSONResponse:
    """Delays and retry waits end now (for tests); admins only, as it spans namespaces."""
    require_admin(caller, "Flushing every scheduled delivery")
    return JSONResponse({"flushed": await _engine(request).flush()})


@router.get("/api/v1/deliveries/{delivery_id}", summary="A delivery with its attempts")
async def get_delivery(request: Request, caller: Caller, delivery_id: str) -> JSONResponse:
    """One delivery."""
    d = await _store(request).get_delivery(delivery_id)
    if d is None:
        raise NotFound(
            f'No delivery with id "{delivery_id}".',
            (FieldProblem(field="id", problem="does not exist"),),
        )
    check_delivery(caller, d, Need.READ)
    return JSONResponse(delivery_view(d, running=_engine(request).is_running(d.id)))


@router.post("/api/v1/deliveries/{delivery_id}/redeliver", summary="Send a delivery again")
async def redeliver(request: Request, caller: Caller, delivery_id: str) -> JSONResponse:
    """Run the delivery again now (same id), with its retry policy counted afresh."""
    d = await _store(request).get_delivery(delivery_id)
    if d is None:
        raise NotFound(
            f'No delivery with id "{delivery_id}".',
            (FieldProblem(field="id", problem="does not exist"),),
        )
    check_delivery(caller, d, Need.WRITE)
    if d.status is DeliveryStatus.SKIPPED or (
        d.status is DeliveryStatus.FAILED and d.attempt_count == 0
    ):
        raise Conflict(
            f'Delivery "{delivery_id}" was never rendered ({d.status.value}: {d.error}); '
            "it cannot be redelivered.",
            (FieldProblem(field="id", problem=f"delivery is {d.status.value} without attempts"),),
        )
    reopened = await _engine(request).redeliver(d)
    return JSONResponse(delivery_view(reopened, with_attempts=False), status_code=202)
