"""Durability: accepted async deliveries survive kill -9 and SIGTERM, and run after a restart."""

from __future__ import annotations

import collections
import concurrent.futures
import signal
import time
from pathlib import Path
from typing import Any

from tests.acceptance.callbacks_support import OPEN_POLICY
from tests.acceptance.conftest import RunningServer
from tests.support.receiver import Reply, ThreadedReceiver

ACCEPTED = 250


def _create(server: RunningServer, receiver: ThreadedReceiver, **callback: Any) -> None:
    mock = {
        "id": "durable",
        "http": {"route": "/order", "httpMethod": "POST"},
        "response": {"statusCode": 202, "payload": {"n": "$.req.n"}},
        "webhooks": [{"url": receiver.url("/hook"), "body": {"n": "$.req.n"}, **callback}],
    }
    assert server.client.post("/api/v1/mocks", json=mock).status_code == 201


def _planned(server: RunningServer) -> list[str]:
    """Every delivery id the request log says was planned."""
    served = server.client.get("/api/v1/requests", params={"limit": 1000}).json()["items"]
    return [d for entry in served for d in entry["deliveries"]]


def test_kill_9_loses_no_accepted_delivery(start_server: Any, tmp_path: Path) -> None:
    """Deliveries accepted before kill -9 (pending on a 2 s delay) all arrive after a restart."""
    data = str(tmp_path / "data")
    with ThreadedReceiver() as receiver:
        first: RunningServer = start_server("--data-dir", data, env=OPEN_POLICY)
        _create(first, receiver, delay=2)
        started = time.monotonic()

        def order(n: int) -> int:
            answer = first.client.post("/order", json={"n": n})
            assert answer.status_code == 202, answer.text
            return n

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            accepted = set(pool.map(order, range(ACCEPTED)))
        planned = _planned(first)
        sending_took = time.monotonic() - started
        first.kill()
        before_kill = len(receiver.calls_to("/hook"))
        assert len(planned) == ACCEPTED == len(accepted)

        second: RunningServer = start_server("--data-dir", data, env=OPEN_POLICY)
        deadline = time.monotonic() + 60
        while True:
            calls = receiver.calls_to("/hook")
            arrived = {c.json()["n"] for c in calls}
            ids = collections.Counter(c.headers["X-Mockback-Delivery-Id"] for c in calls)
            if (accepted <= arrived and set(planned) <= ids.keys()) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        duplicates = sum(count - 1 for count in ids.values())
        print(
            f"\nkill -9 durability: {ACCEPTED} accepted in {sending_took:.2f} s, "
            f"{before_kill} arrived before the kill, {len(ids)} distinct after restart, "
            f"{duplicates} duplicate(s)"
        )
        assert sorted(accepted - arrived) == []
        assert sorted(set(planned) - ids.keys()) == []
        waited = second.client.post(
            "/api/v1/deliveries/wait",
            json={"count": ACCEPTED, "timeout": 30, "status": "succeeded"},
        )
        assert waited.status_code == 200, waited.text[:500]
        assert second.stop() == 0


def test_sigterm_with_attempts_in_flight_exits_0_and_resumes(
    start_server: Any, tmp_path: Path
) -> None:
    """SIGTERM while attempts hang: exit 0; those deliveries run again after the next start."""
    data = str(tmp_path / "data")
    with ThreadedReceiver() as receiver:
        receiver.script(then=Reply(hang=True), path="/hook")
        first: RunningServer = start_server(
            "--data-dir", data, env={**OPEN_POLICY, "WEBHOOK_POOL_SIZE": "3"}
        )
        _create(first, receiver, timeout=60)
        for n in range(5):
            assert first.client.post("/order", json={"n": n}).status_code == 202
        receiver.wait_for(3, timeout=10, path="/hook")  # three in flight, two waiting
        planned = set(_planned(first))
        started = time.monotonic()
        assert first.stop(signal.SIGTERM, timeout=30) == 0
        print(
            f"\nSIGTERM with 3 attempts in flight: exited 0 in {time.monotonic() - started:.2f} s"
        )
        receiver.respond(200, path="/hook")
        second: RunningServer = start_server("--data-dir", data, env=OPEN_POLICY)
        waited = second.client.post(
            "/api/v1/deliveries/wait", json={"count": 5, "timeout": 30, "status": "succeeded"}
        )
        assert waited.status_code == 200, waited.text[:500]
        assert {i["id"] for i in waited.json()["items"]} == planned
        calls = receiver.calls_to("/hook")
        assert {c.json()["n"] for c in calls} == set(range(5))
        assert second.stop() == 0
