"""What the client raises: the server's own error message and field problems, as exceptions.

ClientError                 base of everything the client raises
├── ServerUnreachable       no answer: refused, DNS, TLS, or the answer did not come in time
├── UnexpectedAnswer        a success answer that is not what Mockback sends (wrong --server?)
└── ApiError                the server answered with a 4xx or 5xx; carries its message and details
    ├── InvalidRequest      400 or 422: the input was rejected, every field problem listed
    ├── AccessDenied        401 or 403: missing, wrong or insufficient token
    ├── NotFound            404: no such mock, delivery, or store key
    ├── Conflict            409: the change contradicts what is stored
    ├── PayloadTooLarge     413: a body over a server limit
    ├── WaitTimedOut        408 from deliveries.wait: fewer deliveries ended in time
    └── ServerError         5xx: the server failed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockback.client.models import Delivery


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing the server found wrong with one field."""

    field: str  # dotted path such as "webhooks[0].url"; "" or "body" for the whole input
    problem: str  # what is wrong, as the server worded it


class ClientError(Exception):
    """Base of every error the Mockback client raises."""


class ServerUnreachable(ClientError):
    """The server gave no answer: it is not running, not reachable, or too slow."""


class UnexpectedAnswer(ClientError):
    """A success answer of a shape Mockback never sends: the URL is probably not Mockback."""


class ApiError(ClientError):
    """The server refused a call; ``message`` and ``details`` are the server's own words."""

    def __init__(
        self,
        *,
        status_code: int,
        message: str,
        details: tuple[Problem, ...] = (),
        method: str = "",
        path: str = "",
        body: Any = None,
    ) -> None:
        self.status_code = status_code  # the HTTP status answered
        self.message = message  # the server's one-sentence error
        self.details = details  # each field and its problem
        self.method = method  # the call that failed, e.g. "POST"
        self.path = path  # its path, e.g. "/api/v1/mocks"
        self.body = body  # the whole decoded error answer
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" on {self.method} {self.path}" if self.method else ""
        lines = [f"{self.message} ({self.status_code}{where})"]
        lines.extend(f"  {d.field or 'body'}: {d.problem}" for d in self.details)
        return "\n".join(lines)


class InvalidRequest(ApiError):
    """The server rejected the input (400, 422); ``details`` names every bad field."""


class AccessDenied(ApiError):
    """The call needs a (different) token: 401 or 403."""


class NotFound(ApiError):
    """The named mock, delivery or store key does not exist (404)."""


class Conflict(ApiError):
    """The change contradicts what is stored (409)."""


class PayloadTooLarge(ApiError):
    """A request body over one of the server's limits (413)."""


class ServerError(ApiError):
    """The server failed (5xx)."""


class WaitTimedOut(ApiError):
    """Fewer deliveries than awaited ended in time; ``deliveries`` holds those that did."""

    def __init__(self, *, deliveries: tuple[Delivery, ...] = (), **kwargs: Any) -> None:
        self.deliveries = deliveries  # the matching deliveries that had ended
        super().__init__(**kwargs)


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: AccessDenied,
    403: AccessDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
}


def _problems(raw: Any) -> tuple[Problem, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        Problem(field=str(item.get("field", "")), problem=str(item.get("problem", "")))
        for item in raw
        if isinstance(item, dict)
    )


def api_error(status_code: int, body: Any, *, method: str = "", path: str = "") -> ApiError:
    """The exception for an error answer (``body`` decoded JSON, or text when not JSON)."""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
        details = _problems(body.get("details"))
    else:
        text = body if isinstance(body, str) else ""
        message = text.strip().splitlines()[0] if text.strip() else f"HTTP {status_code}"
        details = ()
    kind = _BY_STATUS.get(status_code)
    if kind is None:
        kind = ServerError if status_code >= 500 else ApiError
    return kind(
        status_code=status_code,
        message=message,
        details=details,
        method=method,
        path=path,
        body=body,
    )
