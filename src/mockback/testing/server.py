"""A real ``mockback serve`` process for tests: free port, in-memory store, loopback callbacks.

``with MockbackServer() as server:`` starts ``mockback serve --port 0 --ephemeral`` with the
same Python, reads the address from the first line it prints, and stops it on exit (SIGTERM,
then SIGKILL if it does not end in time). Callbacks to 127.0.0.1 are allowed
(``ALLOW_PROXY_TO_PRIVATE_IPS=true``), so webhooks reach a receiver in the test process, and
the admin API is open (``AUTH_MODE=off``) unless ``env`` says otherwise.
The server's log lines are kept (``log_text``) to explain a failing test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from mockback.client import Client

ANNOUNCEMENT = "Mockback listening on "
"""The start of the first line ``mockback serve`` prints."""

TEST_ENV: Mapping[str, str] = {"ALLOW_PROXY_TO_PRIVATE_IPS": "true", "AUTH_MODE": "off"}
"""Environment a test server gets on top of the caller's: callbacks may reach loopback, and
the admin API is open whatever ``AUTH_MODE`` the shell has (``env`` may still set it)."""


class ServerStartError(RuntimeError):
    """``mockback serve`` exited or stayed silent instead of announcing its address."""


class MockbackServer:
    """One ``mockback serve`` child process."""

    def __init__(
        self,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        ephemeral: bool = True,
        host: str = "127.0.0.1",
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.args = (
            "serve",
            "--host",
            host,
            "--port",
            "0",
            *(("--ephemeral",) if ephemeral else ()),
            *args,
        )  # the arguments after "mockback"
        self.env = {**TEST_ENV, **(env or {})}  # set on top of the inherited environment
        self.startup_timeout = startup_timeout  # seconds to wait for the announcement
        self.stop_timeout = stop_timeout  # seconds between SIGTERM and SIGKILL
        self._url: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._readers: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._url is None:
            raise RuntimeError("the Mockback server is not running")
        return self._url

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.url.rsplit(":", 1)[1])

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start the process and wait until it announces its address."""
        if self._proc is not None:
            raise RuntimeError("the Mockback server was already started")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "mockback", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **self.env},
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        announced = threading.Event()
        first: list[str] = []

        def read_stdout() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                if not first:
                    first.append(line)
                    announced.set()
                else:
                    self._keep(line)
            announced.set()

        def read_stderr() -> None:
            assert self._proc is not None and self._proc.stderr is not None
            for line in self._proc.stderr:
                self._keep(line)

        self._readers = [
            threading.Thread(target=read_stdout, name="mockback-stdout", daemon=True),
            threading.Thread(target=read_stderr, name="mockback-stderr", daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        announced.wait(self.startup_timeout)
        line = first[0] if first else ""
        if not line.startswith(ANNOUNCEMENT):
            self.kill()
            why = f"printed {line.strip()!r}" if line else "did not announce itself"
            raise ServerStartError(
                f"mockback {' '.join(self.args)} {why} within {self.startup_timeout:g} s; "
                f"its output:\n{self.log_text() or '(none)'}"
            )
        self._url = line[len(ANNOUNCEMENT) :].strip()
        return self

    def _keep(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)

    @property
    def log_size(self) -> int:
        """How many log lines were kept so far (a mark for ``log_text(since=...)``)."""
        with self._lock:
            return len(self._lines)

    def log_text(self, since: int = 0) -> str:
        """What the server logged (stderr, and stdout after the first line), from a mark on."""
        with self._lock:
            return "".join(self._lines[since:])

    def client(self, token: str | None = None) -> Client:
        """A new ``Client`` bound to this server (close it when done)."""
        from mockback.client import Client

        return Client(self.url, token=token)

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; the exit status (None when never started)."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._finish()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL at once."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._finish()

    def _finish(self) -> None:
        for reader in self._readers:
            reader.join(5)
        proc = self._proc
        if proc is not None:
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        self._url = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"MockbackServer({self._url or 'not running'})"
