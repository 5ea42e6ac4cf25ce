"""Backups and jobs over HTTP: a backup moves a server; cleanup purges what has ended."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.conftest import RunningServer
from tests.support.receiver import ThreadedReceiver

ENV = {"ALLOW_PROXY_TO_PRIVATE_IPS": "true", "MOCKBACK_CLEANUP_INTERVAL": "0"}


def ok(answer: httpx.Response, status: int = 200) -> Any:
    """The JSON of an answer that must have this status."""
    assert answer.status_code == status, f"{answer.request.url}: {answer.text}"
    return answer.json() if answer.content else None


def state(client: httpx.Client) -> dict[str, Any]:
    """What a backup must carry over: mocks (deleted too), stores, namespaces, users."""
    return {
        "mocks": ok(client.get("/api/v1/mocks", params={"includeDeleted": "true"}))["items"],
        "global": ok(client.get("/api/v1/stores/global", params={"namespace": "shop"})),
        "chain": ok(client.get("/api/v1/stores/chain/checkout")),
        "namespaces": ok(client.get("/api/v1/namespaces"))["items"],
        "users": ok(client.get("/api/v1/users"))["items"],
        "webhooks": ok(client.get("/api/v1/admin/webhooks"))["items"],
    }


def test_a_backup_restored_into_an_empty_data_directory_reproduces_the_server(
    start_server: Any, tmp_path: Path
) -> None:
    """Copying a backup file to a new data directory and restoring it gives the same state."""
    first: RunningServer = start_server("--data-dir", str(tmp_path / "one"), env=ENV)
    c = first.client
    mocks = [
        {
            "id": "order",
            "namespace": "shop",
            "chainId": "checkout",
            "http": {"route": "/orders/:id", "httpMethod": "POST"},
            "response": {"payload": {"n": "$.gS.n"}},
            "extract": {"gStore": {"n": "$.increment($.gS.n)"}, "cStore": {"last": "$.req.id"}},
        },
        {"id": "hidden", "namespace": "shop", "http": {"route": "/hidden"}},
        {"id": "plain", "http": {"route": "/plain"}},
    ]
    for mock in mocks:
        ok(c.post("/api/v1/mocks", json=mock), 201)
    ok(c.delete("/api/v1/mocks/hidden"))
    assert c.post("/stubs/shop/orders/1", json={"id": "o-1"}).json() == {"n": 1}
    ok(c.post("/api/v1/stores/global", params={"namespace": "shop"}, json={"extra": [1, None]}))
    ok(c.post("/api/v1/users", json={"login": "ann", "password": "ann-pass-1"}), 201)
    ok(c.post("/api/v1/admin/webhooks", json={"operation": "*", "url": "http://x.test/"}), 201)
    before = state(c)
    backup = ok(c.post("/api/v1/admin/backups"), 201)
    assert backup["counts"]["mocks"] == 3 and backup["counts"]["users"] == 1
    listed = ok(c.get("/api/v1/admin/backups"))["items"]
    assert [b["id"] for b in listed] == [backup["id"]] and listed[0]["sizeBytes"] > 0
    assert first.stop() == 0

    target = tmp_path / "two" / "backups"
    target.mkdir(parents=True)
    name = f"{backup['id']}.json"
    shutil.copy(tmp_path / "one" / "backups" / name, target / name)
    second: RunningServer = start_server("--data-dir", str(tmp_path / "two"), env=ENV)
    assert ok(second.client.get("/api/v1/mocks"))["total"] == 0
    restored = ok(second.client.post(f"/api/v1/admin/backups/{backup['id']}/restore"))
    assert restored["counts"] == backup["counts"]
    assert state(second.client) == before
    assert second.client.post("/stubs/shop/orders/2", json={"id": "o-2"}).json() == {"n": 2}
    assert second.client.get("/hidden").status_code == 404
    assert second.client.get("/plain").status_code == 200
    missing = second.client.post("/api/v1/admin/backups/bak_nope/restore")
    assert missing.status_code == 404
    assert second.client.post("/api/v1/admin/backups/..%2Fsecret/restore").status_code == 404


def test_restore_replaces_what_changed_since_the_backup(start_server: Any) -> None:
    """In memory too: after a restore, later mocks are gone and deleted ones are back."""
    server: RunningServer = start_server("--ephemeral", env=ENV)
    c = server.client
    ok(c.post("/api/v1/mocks", json={"id": "kept", "http": {"route": "/kept"}}), 201)
    backup = ok(c.post("/api/v1/admin/backups"), 201)
    ok(c.delete("/api/v1/mocks/kept"))
    ok(c.post("/api/v1/mocks", json={"id": "later", "http": {"route": "/later"}}), 201)
    ok(c.post(f"/api/v1/admin/backups/{backup['id']}/restore"))
    assert [m["id"] for m in ok(c.get("/api/v1/mocks"))["items"]] == ["kept"]
    assert c.get("/kept").status_code == 200
    assert c.get("/later").status_code == 404


def test_restore_brings_back_the_store_values_that_served_mocks_read(start_server: Any) -> None:
    """After a restore, a mock reading $.gS answers with the restored values, and keys written
    since the backup are gone; the mock itself was never changed."""
    server: RunningServer = start_server("--ephemeral", env=ENV)
    c = server.client
    mock = {"id": "count", "http": {"route": "/count"}, "response": {"payload": "$.gS"}}
    ok(c.post("/api/v1/mocks", json=mock), 201)
    ok(c.post("/api/v1/stores/global", json={"n": 1}))
    backup = ok(c.post("/api/v1/admin/backups"), 201)
    ok(c.post("/api/v1/stores/global", json={"n": 5, "since": "backup"}))
    assert c.get("/count").json() == {"n": 5, "since": "backup"}
    ok(c.post(f"/api/v1/admin/backups/{backup['id']}/restore"))
    assert c.get("/count").json() == {"n": 1}
    ok(c.post("/api/v1/stores/global", json={"n": 2}))
    assert c.get("/count").json() == {"n": 2}


def test_cleanup_purges_what_ended_and_reports_it(start_server: Any) -> None:
    """With a retention of 0 days, cleanup purges deleted mocks and ended deliveries; job.run fires."""
    server: RunningServer = start_server("--ephemeral", env={**ENV, "MOCKBACK_RETENTION_DAYS": "0"})
    c = server.client
    with ThreadedReceiver() as receiver:
        ok(
            c.post(
                "/api/v1/admin/webhooks",
                json={
                    "operation": "job.run",
                    "url": receiver.url("/jobs"),
                    "body": {"job": "$.event.data.name", "purged": "$.event.data.summary"},
                },
            ),
            201,
        )
        mock = {
            "id": "gone",
            "http": {"route": "/gone"},
            "webhooks": [{"url": receiver.url("/cb")}],
        }
        ok(c.post("/api/v1/mocks", json=mock), 201)
        assert c.get("/gone").status_code == 200
        ok(c.post("/api/v1/deliveries/wait", json={"count": 1, "timeout": 10}))
        ok(c.delete("/api/v1/mocks/gone"))
        assert [j["name"] for j in ok(c.get("/api/v1/admin/jobs"))["items"]] == ["cleanup"]
        run = ok(c.post("/api/v1/admin/jobs/cleanup/run"))
        assert run["name"] == "cleanup" and run["trigger"] == "manual"
        assert run["summary"]["mocksPurged"] == 1 and run["summary"]["deliveriesPurged"] == 1
        assert run["summary"]["attemptsPurged"] == 1
        [call] = receiver.wait_for(1, path="/jobs", timeout=10)
        assert call.json() == {"job": "cleanup", "purged": run["summary"]}
    assert c.get("/api/v1/mocks/gone").status_code == 404
    remaining = ok(c.get("/api/v1/deliveries"))["items"]
    assert all(d["mockId"] is None for d in remaining)  # only the job.run webhook's
    assert c.post("/api/v1/admin/jobs/nope/run").status_code == 404
