"""Shared pieces of the callback acceptance tests: one server and one receiver per module.

The acceptance conftest wraps ``module_server`` and ``module_receiver`` in module-scoped
fixtures (``shared_server``, ``shared_receiver``) and builds a ``Hooks`` per test (``hooks``). Each test works under its own name: its mocks, routes and receiver paths carry it, so tests
sharing a server never see each other's deliveries.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.acceptance.conftest import RunningServer
from tests.support.receiver import Call, ThreadedReceiver

OPEN_POLICY = {"ALLOW_PROXY_TO_PRIVATE_IPS": "true"}


@dataclass
class Hooks:
    """A test's view of the shared server and receiver."""

    server: RunningServer  # the real mockback serve process
    receiver: ThreadedReceiver  # records what callbacks send
    name: str  # unique per test: mock ids, routes and receiver paths carry it

    def url(self, suffix: str = "") -> str:
        """A receiver URL of this test."""
        return self.receiver.url(self.path(suffix))

    def path(self, suffix: str = "") -> str:
        """A receiver path of this test."""
        return f"/{self.name}{suffix}"

    def mock(
        self,
        *webhooks: dict[str, Any],
        key: str = "",
        status: int = 200,
        payload: Any = None,
        route: str | None = None,
        **extra: Any,
    ) -> str:
        """Create a mock answering ``POST /<name><key>`` with these callbacks; its id."""
        mock_id = f"{self.name}{key}"
        document: dict[str, Any] = {
            "id": mock_id,
            "http": {"route": route or f"/{mock_id}", "httpMethod": "POST"},
            "response": {"statusCode": status, "payload": payload},
            "webhooks": list(webhooks),
            **extra,
        }
        created = self.server.client.post("/api/v1/mocks", json=document)
        assert created.status_code in (200, 201), created.text
        return mock_id

    def call(self, key: str = "", body: Any = None, **kw: Any) -> Any:
        """POST to a mock of this test."""
        return self.server.client.post(f"/{self.name}{key}", json=body or {}, **kw)

    def deliveries(self, mock_id: str | None = None, **params: Any) -> dict[str, Any]:
        """GET /api/v1/deliveries for a mock of this test."""
        answer = self.server.client.get(
            "/api/v1/deliveries", params={"mockId": mock_id or self.name, **params}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def ended(self, count: int = 1, timeout: float = 20, **body: Any) -> list[dict[str, Any]]:
        """Wait until ``count`` deliveries of this test's mock have ended; them, with attempts."""
        answer = self.server.client.post(
            "/api/v1/deliveries/wait",
            json={"count": count, "timeout": timeout, "mockId": self.name, **body},
            timeout=timeout + 10,
        )
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def calls(self, count: int, suffix: str = "", timeout: float = 20) -> list[Call]:
        """Wait for ``count`` calls to a path of this test."""
        return self.receiver.wait_for(count, timeout=timeout, path=self.path(suffix))

    def log_events(self, message: str) -> list[dict[str, Any]]:
        """JSON log lines of the server with this message, for this test's mocks."""
        out = []
        for line in self.server.stderr_text().splitlines():
            if not line.startswith("{"):
                continue
            event = orjson.loads(line)
            if event.get("event") == message and str(event.get("mock_id", "")).startswith(
                self.name
            ):
                out.append(event)
        return out


def name_of(request: pytest.FixtureRequest) -> str:
    """The running test's name as a path and id segment."""
    return re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")[:80]


def module_receiver() -> Iterator[ThreadedReceiver]:
    """One receiver for a module (wrap in a module-scoped fixture)."""
    with ThreadedReceiver() as receiver:
        yield receiver


def module_server(
    tmp_path_factory: pytest.TempPathFactory, env: dict[str, str] | None = None
) -> Iterator[RunningServer]:
    """One server for a module: SQLite store, JSON logs, loopback callbacks allowed."""
    data: Path = tmp_path_factory.mktemp("data")
    server = RunningServer(
        ["--data-dir", str(data), "--log-format", "json"], {**OPEN_POLICY, **(env or {})}
    )
    yield server
    if server.proc.poll() is None:
        server.stop()


def gaps(calls: list[Call]) -> list[float]:
    """Seconds between consecutive arrivals."""
    times = [c.arrived_monotonic for c in calls]
    return [b - a for a, b in itertools.pairwise(times)]


def elapsed_since(started: float) -> float:
    """Seconds since a monotonic instant."""
    return time.monotonic() - started
