"""``--cpu-scheduling`` on a real server: the kernel policy every one of its threads runs with."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.acceptance.conftest import RunningServer

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="scheduling policies are Linux's"
)

Start = Callable[..., RunningServer]


@contextmanager
def on_cpus(cpus: set[int]) -> Iterator[None]:
    """Processes started inside may run only on ``cpus`` (they inherit this thread's affinity)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def policies(server: RunningServer) -> set[int]:
    """The scheduling policies of the server's threads (its loop, granian's, the writer's)."""
    tasks = Path(f"/proc/{server.proc.pid}/task")
    found = {os.sched_getscheduler(int(tid.name)) for tid in tasks.iterdir()}
    assert len(list(tasks.iterdir())) >= 3, "expected the loop's, granian's and other threads"
    return found


def one_cpu() -> set[int]:
    return {min(os.sched_getaffinity(0))}


def test_on_one_cpu_every_thread_is_batch(start_server: Start, tmp_path: Path) -> None:
    """Pinned to one CPU (auto), the loop and every thread it started run as SCHED_BATCH, the
    log says so, and the server serves (with a SQLite store, so the writer thread exists)."""
    with on_cpus(one_cpu()):
        server = start_server("--data-dir", str(tmp_path / "data"))
    assert policies(server) == {os.SCHED_BATCH}
    created = server.client.post("/api/v1/mocks", json={"id": "a", "http": {"route": "/a"}})
    assert created.status_code == 201
    assert server.client.get("/a").status_code == 200
    assert server.stop() == 0
    assert "Threads scheduled as batch work" in server.stderr_text()


def test_off_keeps_the_default_on_one_cpu(start_server: Start) -> None:
    """--cpu-scheduling off leaves every thread with the default policy, even on one CPU."""
    with on_cpus(one_cpu()):
        server = start_server("--ephemeral", "--cpu-scheduling", "off")
    assert policies(server) == {os.SCHED_OTHER}
    assert server.stop() == 0
    assert "batch" not in server.stderr_text()


def test_auto_keeps_the_default_on_several_cpus(start_server: Start) -> None:
    """Allowed two CPUs, the server's threads keep the kernel's default policy."""
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        pytest.skip("this machine gives the tests a single CPU")
    with on_cpus(set(sorted(cpus)[:2])):
        server = start_server("--ephemeral")
    assert policies(server) == {os.SCHED_OTHER}


def test_batch_applies_on_several_cpus(start_server: Start) -> None:
    """MOCKBACK_CPU_SCHEDULING=batch applies the policy whatever the CPUs."""
    server = start_server("--ephemeral", env={"MOCKBACK_CPU_SCHEDULING": "batch"})
    assert policies(server) == {os.SCHED_BATCH}
