"""Acceptance fixtures: the real ``mockback serve`` process on a free port, talked to over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from tests.acceptance.callbacks_support import Hooks
    from tests.support.receiver import ThreadedReceiver


class RunningServer:
    """A ``mockback serve`` child process."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.args = args
        full_env = {**os.environ, **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockback", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            text=True,
        )
        self.stderr_lines: list[str] = []
        line = self._first_line(timeout=20)
        prefix = "Mockback listening on "
        if not line.startswith(prefix):
            self.proc.kill()
            self.proc.wait(10)
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
            raise AssertionError(f"unexpected first line {line!r}; stderr: {self.stderr_text()}")
        self.url = line[len(prefix) :].strip()
        self.client = httpx.Client(base_url=self.url, timeout=30)
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _first_line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self.proc.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not result:
            self.proc.kill()
            raise AssertionError("server did not announce itself in time")
        return result[0]

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def stderr_text(self) -> str:
        """What the server logged so far."""
        return "".join(self.stderr_lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send a signal and return the exit code."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self._close()
            raise
        self._close()
        return code

    def _close(self) -> None:
        self._drain.join(5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def kill(self) -> None:
        """SIGKILL, no cleanup."""
        self.client.close()
        self.proc.kill()
        self.proc.wait(10)
        self._close()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[object]:
    """Start servers (``start_server("--ephemeral")``); all are stopped after the test."""
    started: list[RunningServer] = []

    def start(*args: str, env: dict[str, str] | None = None) -> RunningServer:
        server = RunningServer(list(args), env)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.kill()


@pytest.fixture
def server(start_server: object, tmp_path: Path) -> RunningServer:
    """One server with its own data directory."""
    return start_server("--data-dir", str(tmp_path / "data"))  # type: ignore[operator, no-any-return]


# The callback modules share one server and one receiver per module (see callbacks_support,
# imported here inside the fixtures: it imports RunningServer from this file).


@pytest.fixture(scope="module")
def shared_receiver() -> Iterator[ThreadedReceiver]:
    """The receiver every test of a callback module sends to."""
    from tests.acceptance.callbacks_support import module_receiver

    yield from module_receiver()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The server every test of a callback module uses (its callbacks may reach loopback)."""
    from tests.acceptance.callbacks_support import module_server

    yield from module_server(tmp_path_factory)


@pytest.fixture
def hooks(
    shared_server: RunningServer, shared_receiver: ThreadedReceiver, request: pytest.FixtureRequest
) -> Hooks:
    """This test's view of the shared server and receiver, under the test's own name."""
    from tests.acceptance.callbacks_support import Hooks, name_of

    return Hooks(shared_server, shared_receiver, name_of(request))
