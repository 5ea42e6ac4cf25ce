"""pytest fixtures that test against a real Mockback server (registered as the ``mockback`` plugin).

Fixtures:

* ``mockback_server`` — the ``MockbackServer`` this test talks to (``.url``, ``.port``). By
  default every test shares one server started on first use (in-memory store, free port,
  callbacks to 127.0.0.1 allowed); after each test the mocks and stores are put back as they
  were before it, and the request logs are cleared before it. A test marked
  ``@pytest.mark.mockback_isolated`` gets a server of its own, as does every test with
  ``--mockback-isolation=test`` (or ``mockback_isolation = test`` in the configuration).
* ``mockback`` — a ``mockback.client.Client`` bound to ``mockback_server``.
* ``mockback_session_server`` — the shared server itself, for session- or module-scoped
  fixtures that load mocks once (mocks that exist before a test are kept after it).
* ``webhook_receiver`` — a ``ThreadedReceiver`` on a free port: records every call, answers as
  programmed (``respond``, ``fail_first``, ``hang``, ...), ``wait_for(count, timeout)``.

Configuration (``[tool.pytest.ini_options]``): ``mockback_args`` adds ``mockback serve``
arguments to every server started (``--faker-seed 1``), ``mockback_env`` sets ``KEY=VALUE``
environment lines. The marker takes the same per test: ``mockback_isolated("--strict",
env={"WEBHOOK_POOL_SIZE": "2"})``. When a test fails, what the server logged during it is shown
in the report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mockback.client import Client
    from mockback.testing.receiver import ThreadedReceiver
    from mockback.testing.server import MockbackServer

MARKER = "mockback_isolated"
"""The marker that gives a test a server of its own."""

ISOLATION = ("session", "test")
"""``session``: tests share one server (the default); ``test``: each test gets its own."""

_WATCHED = pytest.StashKey[tuple["MockbackServer", int]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line option and configuration keys."""
    group = parser.getgroup("mockback", "Mockback test server")
    group.addoption(
        "--mockback-isolation",
        choices=ISOLATION,
        default=None,
        help="session: tests share one Mockback server (default); test: one server per test.",
    )
    parser.addini(
        "mockback_isolation",
        "session (tests share one Mockback server, the default) or test (one per test)",
        default="session",
    )
    parser.addini("mockback_args", "extra `mockback serve` arguments for every server", type="args")
    parser.addini("mockback_env", "KEY=VALUE environment lines for every server", type="linelist")


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """The plugin's configuration, read once."""

    isolation: str  # "session" or "test"
    args: tuple[str, ...]  # extra `mockback serve` arguments for every server
    env: dict[str, str]  # extra environment for every server


_OPTIONS = pytest.StashKey[Options]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (so ``--strict-markers`` accepts it) and check the configuration."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*args, env=None): run this test against a Mockback server of its own, "
        "started with these extra `mockback serve` arguments and environment.",
    )
    config.stash[_OPTIONS] = read_options(config)


def read_options(config: pytest.Config) -> Options:
    """The options from the command line and the configuration; UsageError when invalid."""
    isolation = config.getoption("mockback_isolation") or config.getini("mockback_isolation")
    if isolation not in ISOLATION:
        raise pytest.UsageError(f"mockback_isolation = {isolation!r}: expected session or test")
    env: dict[str, str] = {}
    for line in config.getini("mockback_env"):
        key, sep, value = str(line).partition("=")
        if not sep or not key.strip():
            raise pytest.UsageError(f"mockback_env: {line!r} is not KEY=VALUE")
        env[key.strip()] = value.strip()
    args = tuple(str(a) for a in config.getini("mockback_args"))
    return Options(isolation=str(isolation), args=args, env=env)


def _marker_options(marker: pytest.Mark) -> tuple[list[str], dict[str, str]]:
    unknown = set(marker.kwargs) - {"env"}
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.{MARKER}: unknown keyword {sorted(unknown)[0]!r} (only env=)"
        )
    env = marker.kwargs.get("env") or {}
    return [str(a) for a in marker.args], {str(k): str(v) for k, v in env.items()}


def _watch(request: pytest.FixtureRequest, server: MockbackServer) -> None:
    request.node.stash[_WATCHED] = (server, server.log_size)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Show what the server logged during a failed test."""
    report = yield
    watched = item.stash.get(_WATCHED, None)
    if watched is not None and report.failed:
        server, mark = watched
        text = server.log_text(since=mark)
        if text:
            report.sections.append((f"Mockback server log ({report.when})", text))
    return report


@pytest.fixture(scope="session")
def mockback_session_server(pytestconfig: pytest.Config) -> Iterator[MockbackServer]:
    """The Mockback server tests share, started on first use and stopped at the end."""
    from mockback.testing.server import MockbackServer

    options = pytestconfig.stash[_OPTIONS]
    with MockbackServer(args=options.args, env=options.env) as server:
        yield server


@pytest.fixture
def mockback_server(request: pytest.FixtureRequest) -> Iterator[MockbackServer]:
    """The Mockback server of this test: the shared one (reset around the test) or its own."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None or request.config.stash[_OPTIONS].isolation == "test":
        yield from _own_server(request, marker)
        return
    from mockback.testing import checkpoint

    server: MockbackServer = request.getfixturevalue("mockback_session_server")
    with server.client() as client:
        client.requests.clear()
        before = checkpoint.take(client)
    _watch(request, server)
    yield server
    with server.client() as client:
        checkpoint.roll_back(client, before)


def _own_server(
    request: pytest.FixtureRequest, marker: pytest.Mark | None
) -> Iterator[MockbackServer]:
    from mockback.testing.server import MockbackServer

    options = request.config.stash[_OPTIONS]
    args, env = [*options.args], dict(options.env)
    if marker is not None:
        more_args, more_env = _marker_options(marker)
        args, env = [*args, *more_args], {**env, **more_env}
    with MockbackServer(args=args, env=env) as server:
        _watch(request, server)
        yield server


@pytest.fixture
def mockback(mockback_server: MockbackServer) -> Iterator[Client]:
    """A ``mockback.client.Client`` bound to this test's server."""
    with mockback_server.client() as client:
        yield client


@pytest.fixture
def webhook_receiver() -> Iterator[ThreadedReceiver]:
    """A webhook receiver on 127.0.0.1 and a free port that records calls and can fail or wait."""
    from mockback.testing.receiver import ThreadedReceiver

    with ThreadedReceiver() as receiver:
        yield receiver
