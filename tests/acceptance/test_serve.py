"""The server as a user runs it: start, create mocks, call them, restart, stop."""

from __future__ import annotations

import concurrent.futures
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.acceptance.conftest import RunningServer

SEED_PAYMENT = {
    "id": "payment-with-webhook",
    "http": {"route": "/api/payments", "httpMethod": "POST"},
    "response": {"statusCode": 200, "payload": {"id": "$.fake.UUID", "status": "succeeded"}},
    "webhooks": [
        {
            "url": "http://my-app:3000/webhooks/stripe",
            "method": "POST",
            "headers": {"X-Stripe-Signature": "t=123456,v1=abc123"},
            "body": {
                "type": "payment_intent.succeeded",
                "data": {"amount": 2500, "currency": "usd"},
            },
            "trigger": "on_success",
        }
    ],
}


@pytest.mark.parametrize("path", ["/api/v1/mocks", "/mock/create"])
def test_seed_payment_mock_survives_restart(start_server: Any, tmp_path: Path, path: str) -> None:
    """The seed's payment mock, created on either path, answers before and after a restart."""
    data = str(tmp_path / "data")
    first: RunningServer = start_server("--data-dir", data)
    created = first.client.post(path, json=SEED_PAYMENT)
    assert created.status_code == 201, created.text
    assert created.json()["overwritten"] is False
    answer = first.client.post("/api/payments", json={"amount": 2500})
    assert answer.status_code == 200
    assert answer.json()["status"] == "succeeded"
    assert len(answer.json()["id"]) == 36
    assert first.stop() == 0
    second: RunningServer = start_server("--data-dir", data)
    again = second.client.post("/api/payments", json={"amount": 2500})
    assert again.status_code == 200 and again.json()["status"] == "succeeded"
    assert again.json()["id"] != answer.json()["id"]
    assert second.client.get("/api/v1/mocks/payment-with-webhook").json()["webhooks"][0]["url"] == (
        "http://my-app:3000/webhooks/stripe"
    )
    assert second.stop(signal.SIGINT) == 0


def test_overwrite_by_id(server: RunningServer) -> None:
    """Posting the same id again overwrites the mock and says so."""
    server.client.post(
        "/api/v1/mocks", json={"id": "m", "http": {"route": "/m"}, "response": {"payload": "one"}}
    )
    second = server.client.post(
        "/api/v1/mocks", json={"id": "m", "http": {"route": "/m"}, "response": {"payload": "two"}}
    )
    assert second.status_code == 200 and second.json()["overwritten"] is True
    assert server.client.get("/m").text == "two"


def test_rejected_mock_changes_nothing(server: RunningServer) -> None:
    """An invalid overwrite is a 400 naming each field, and the stored mock keeps answering."""
    server.client.post(
        "/api/v1/mocks",
        json={"id": "keep", "http": {"route": "/keep"}, "response": {"payload": {"v": 1}}},
    )
    bad = server.client.post(
        "/api/v1/mocks",
        json={"id": "keep", "http": {"route": "keep"}, "response": {"statusCode": 9000}},
    )
    assert bad.status_code == 400
    body = bad.json()
    assert {d["field"] for d in body["details"]} == {"http.route", "response.statusCode"}
    assert body["error"]
    assert server.client.get("/keep").json() == {"v": 1}
    assert server.client.get("/api/v1/mocks/keep").json()["http"]["route"] == "/keep"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{not json", "body"),  # malformed JSON
        (b"", "body"),  # empty body
        (b"[1, 2]", ""),  # not an object
        (b'{"http": 5}', "http"),  # wrong type
    ],
)
def test_hostile_bodies_get_clear_400(server: RunningServer, raw: bytes, field: str) -> None:
    """Malformed input is a 400 with the error shape, never a 500."""
    answer = server.client.post("/api/v1/mocks", content=raw)
    assert answer.status_code == 400
    assert field in [d["field"] for d in answer.json()["details"]]


def test_admin_body_limit(start_server: Any) -> None:
    """An admin body over the limit is a 413 naming the limit."""
    srv: RunningServer = start_server("--ephemeral", env={"MOCKBACK_MAX_ADMIN_BODY": "1000"})
    answer = srv.client.post("/api/v1/mocks", content=b"{" + b" " * 2000 + b"}")
    assert answer.status_code == 413
    assert "1000" in answer.json()["error"]


def test_mock_paths_under_api_prefix_are_served(server: RunningServer) -> None:
    """Admin routes win only for their exact paths: /api/v1/payments is a mock path."""
    server.client.post(
        "/api/v1/mocks",
        json={
            "id": "p",
            "http": {"route": "/api/v1/payments"},
            "response": {"payload": {"mock": True}},
        },
    )
    assert server.client.get("/api/v1/payments").json() == {"mock": True}
    assert server.client.get("/api/v1/mocks").json()["total"] == 1


def test_namespaces_are_served_under_stubs(server: RunningServer) -> None:
    """Mocks of namespace ns answer under /stubs/ns; sandbox mocks also at the bare route."""
    server.client.post(
        "/api/v1/mocks",
        json={
            "id": "t",
            "namespace": "team",
            "http": {"route": "/x"},
            "response": {"payload": "team"},
        },
    )
    server.client.post(
        "/api/v1/mocks",
        json={"id": "s", "http": {"route": "/x"}, "response": {"payload": "sandbox"}},
    )
    assert server.client.get("/stubs/team/x").text == "team"
    assert server.client.get("/stubs/sandbox/x").text == "sandbox"
    assert server.client.get("/x").text == "sandbox"
    assert server.client.get("/stubs/other/x").status_code == 404


def test_response_status_headers_and_payload(server: RunningServer) -> None:
    """Status, single and multiple header values, JSON and text payloads are answered as set."""
    server.client.post(
        "/api/v1/mocks",
        json={
            "id": "r",
            "http": {"route": "/r/:id", "httpMethod": "GET"},
            "response": {
                "statusCode": 202,
                "headers": {"X-Trace": "abc", "Set-Cookie": ["a=1", "b=2"]},
                "payload": {"id": "$.pathParams.id"},
            },
        },
    )
    answer = server.client.get("/r/42")
    assert answer.status_code == 202
    assert answer.headers["x-trace"] == "abc"
    assert answer.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"id": "42"}
    server.client.post(
        "/api/v1/mocks",
        json={
            "id": "t",
            "http": {"route": "/t"},
            "response": {"statusCode": 418, "payload": "teapot"},
        },
    )
    text = server.client.get("/t")
    assert (text.status_code, text.text) == (418, "teapot")
    assert text.headers["content-type"].startswith("text/plain")


def test_delay_does_not_block_other_requests(server: RunningServer) -> None:
    """A slow mock answers after its delay while another mock answers at once."""
    server.client.post(
        "/api/v1/mocks",
        json={
            "id": "slow",
            "http": {"route": "/slow"},
            "response": {"delay": 1500, "payload": "slow"},
        },
    )
    server.client.post(
        "/api/v1/mocks",
        json={"id": "fast", "http": {"route": "/fast"}, "response": {"payload": "fast"}},
    )
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        slow = pool.submit(server.client.get, "/slow")
        time.sleep(0.1)
        fast = server.client.get("/fast")
        fast_elapsed = time.monotonic() - started
        assert fast.text == "fast"
        assert slow.result().text == "slow"
        slow_elapsed = time.monotonic() - started
    assert fast_elapsed < 1.0
    assert slow_elapsed >= 1.5


def test_conditions_select_the_mock(server: RunningServer) -> None:
    """Body, query and header conditions pick between mocks on one route."""
    server.client.post(
        "/api/v1/mocks",
        json={
            "id": "big",
            "http": {
                "route": "/pay",
                "httpMethod": "POST",
                "conditions": [{"path": "$.amount", "assertAction": "equals", "value": 2500}],
                "queryParams": [{"path": "mode", "value": "test"}],
                "header": [{"path": "X-Api-Key", "assertAction": "notEmpty"}],
            },
            "response": {"payload": "big"},
        },
    )
    server.client.post(
        "/api/v1/mocks",
        json={
            "id": "other",
            "priority": -1,
            "http": {"route": "/pay", "httpMethod": "POST"},
            "response": {"payload": "other"},
        },
    )
    hit = server.client.post("/pay?mode=test", json={"amount": 2500}, headers={"X-Api-Key": "k"})
    assert hit.text == "big"
    assert (
        server.client.post("/pay?mode=live", json={"amount": 2500}, headers={"X-Api-Key": "k"}).text
        == "other"
    )


def test_unmatched_request_lists_near_misses_and_is_logged(server: RunningServer) -> None:
    """No match answers 404 with the closest mocks and why; the request is in the unmatched log."""
    server.client.post(
        "/api/v1/mocks",
        json={"id": "post-only", "http": {"route": "/orders", "httpMethod": "POST"}},
    )
    miss = server.client.get("/orders")
    assert miss.status_code == 404
    body = miss.json()
    assert "No mock matched GET /orders" in body["error"]
    assert body["nearMisses"][0]["mockId"] == "post-only"
    assert "method GET does not match POST" in body["nearMisses"][0]["reason"]
    logged = server.client.get("/api/v1/undefined-requests").json()
    assert logged["total"] == 1
    assert logged["items"][0]["path"] == "/orders"
    assert logged["items"][0]["nearMisses"][0]["mockId"] == "post-only"


def test_request_log_newest_first(server: RunningServer) -> None:
    """Served requests are logged newest first with the mock and the status."""
    server.client.post("/api/v1/mocks", json={"id": "a", "http": {"route": "/a"}})
    server.client.post("/a", content=b"first")
    server.client.post("/a", content=b"second")
    items = server.client.get("/api/v1/requests").json()["items"]
    assert [i["body"] for i in items] == ["second", "first"]
    assert items[0]["mockId"] == "a" and items[0]["statusCode"] == 200
    assert items[0]["id"].startswith("req_")


def test_request_log_is_bounded(start_server: Any) -> None:
    """The request log keeps only the configured number of newest entries."""
    srv: RunningServer = start_server("--ephemeral", env={"MOCKBACK_REQUEST_LOG_SIZE": "3"})
    srv.client.post("/api/v1/mocks", json={"id": "a", "http": {"route": "/a"}})
    for i in range(5):
        srv.client.post("/a", content=str(i).encode())
    log = srv.client.get("/api/v1/requests").json()
    assert log["total"] == 3
    assert [i["body"] for i in log["items"]] == ["4", "3", "2"]


def test_list_filters_and_crud(server: RunningServer) -> None:
    """List filters and pages; PUT, PATCH, DELETE and restore behave as documented."""
    for i in range(4):
        server.client.post(
            "/api/v1/mocks",
            json={
                "id": f"m{i}",
                "namespace": "a" if i < 2 else "b",
                "tags": ["even"] if i % 2 == 0 else [],
                "http": {"route": f"/m{i}"},
            },
        )
    page = server.client.get("/api/v1/mocks", params={"limit": 2, "offset": 1}).json()
    assert [m["id"] for m in page["items"]] == ["m1", "m2"] and page["total"] == 4
    assert server.client.get("/api/v1/mocks", params={"namespace": "b"}).json()["total"] == 2
    assert [
        m["id"] for m in server.client.get("/api/v1/mocks", params={"tags": "even"}).json()["items"]
    ] == ["m0", "m2"]
    put = server.client.put("/api/v1/mocks/m0", json={"http": {"route": "/new"}, "namespace": "a"})
    assert put.status_code == 200 and put.json()["mock"]["http"]["route"] == "/new"
    assert (
        server.client.put("/api/v1/mocks/nope", json={"http": {"route": "/x"}}).status_code == 404
    )
    patched = server.client.patch("/api/v1/mocks/m0", json={"response": {"statusCode": 201}})
    assert patched.json()["mock"]["response"]["statusCode"] == 201
    assert patched.json()["mock"]["http"]["route"] == "/new"
    assert server.client.get("/stubs/a/new").status_code == 201
    assert server.client.delete("/api/v1/mocks/m0").json()["mock"]["deleted"] is True
    assert server.client.get("/stubs/a/new").status_code == 404
    assert server.client.get("/api/v1/mocks").json()["total"] == 3
    assert server.client.post("/api/v1/mocks/m0/restore").status_code == 200
    assert server.client.get("/stubs/a/new").status_code == 201
    assert server.client.delete("/api/v1/mocks/missing").status_code == 404


def test_unknown_fields_warn_and_strict_rejects(server: RunningServer) -> None:
    """Unknown fields are accepted with a warning; ?strict=true rejects them."""
    lenient = server.client.post(
        "/api/v1/mocks", json={"id": "u", "http": {"route": "/u"}, "respose": {}}
    )
    assert lenient.status_code == 201
    assert lenient.json()["warnings"] == ['"respose": unknown field, did you mean "response"?']
    strict = server.client.post(
        "/api/v1/mocks?strict=true", json={"id": "v", "http": {"route": "/v"}, "respose": {}}
    )
    assert strict.status_code == 400
    assert strict.json()["details"][0]["field"] == "respose"


def test_health_and_openapi(server: RunningServer) -> None:
    """Health endpoints answer, and the OpenAPI document describes the mock schema."""
    assert server.client.get("/health").json()["status"] == "ok"
    assert server.client.get("/health/live").status_code == 200
    assert server.client.get("/health/ready").status_code == 200
    spec = server.client.get("/openapi.json").json()
    assert "/api/v1/mocks" in spec["paths"]
    assert "MockIn" in spec["components"]["schemas"]
    assert "swagger" in server.client.get("/docs").text.lower()


def test_served_body_limit(start_server: Any) -> None:
    """A served request body over the limit is a 413."""
    srv: RunningServer = start_server("--ephemeral", env={"MOCKBACK_MAX_SERVED_BODY": "100"})
    srv.client.post("/api/v1/mocks", json={"id": "a", "http": {"route": "/a"}})
    assert srv.client.post("/a", content=b"x" * 200).status_code == 413
    assert srv.client.post("/a", content=b"x" * 50).status_code == 200


def test_ephemeral_writes_nothing(start_server: Any, tmp_path: Path) -> None:
    """--ephemeral keeps mocks in memory and creates no data directory."""
    srv: RunningServer = start_server("--ephemeral", "--data-dir", str(tmp_path / "nothing"))
    srv.client.post("/api/v1/mocks", json={"id": "a", "http": {"route": "/a"}})
    assert srv.client.get("/a").status_code == 200
    assert srv.stop() == 0
    assert not (tmp_path / "nothing").exists()


def test_mocks_files_load_idempotently(start_server: Any, tmp_path: Path) -> None:
    """--mocks loads JSON and YAML files and folders; loading twice keeps one mock per id."""
    folder = tmp_path / "mocks"
    folder.mkdir()
    (folder / "a.json").write_bytes(
        orjson.dumps(
            [
                {"id": "j1", "http": {"route": "/j1"}, "response": {"payload": "j1"}},
                {"id": "j2", "http": {"route": "/j2"}},
            ]
        )
    )
    (folder / "b.yaml").write_text(
        "id: y1\nhttp:\n  route: /y1\nresponse:\n  payload: {from: yaml}\n"
    )
    single = tmp_path / "single.yml"
    single.write_text("id: s1\nhttp: {route: /s1}\n")
    data = str(tmp_path / "data")
    first: RunningServer = start_server(
        "--data-dir", data, "--mocks", str(folder), "--mocks", str(single)
    )
    assert first.client.get("/y1").json() == {"from": "yaml"}
    assert first.client.get("/j1").text == "j1"
    assert first.stop() == 0
    second: RunningServer = start_server(
        "--data-dir", data, "--mocks", str(folder), "--mocks", str(single)
    )
    assert second.client.get("/api/v1/mocks").json()["total"] == 4
    assert second.client.get("/s1").status_code == 200


def run_serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "mockback", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


def test_invalid_mock_file_exits_with_one_clear_line(tmp_path: Path) -> None:
    """An invalid mock in --mocks stops start-up with one line naming the file and field."""
    bad = tmp_path / "bad.json"
    bad.write_bytes(
        orjson.dumps(
            [{"id": "ok", "http": {"route": "/ok"}}, {"id": "bad", "http": {"route": "no-slash"}}]
        )
    )
    done = run_serve("--ephemeral", "--mocks", str(bad))
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "bad.json[1]" in lines[0] and "http.route" in lines[0]
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--bogus"], None, "--bogus"),  # unknown flag
        (["--mocks", "/nonexistent/mocks.json"], None, "/nonexistent/mocks.json"),  # missing file
        (["--log-format", "xml"], None, "log-format"),  # bad choice
        ([], {"MOCKBACK_PORT": "banana"}, "MOCKBACK_PORT"),  # bad environment value
        (["--db", "mysql://x"], None, "--db"),  # unsupported DSN
        (["--cpu-scheduling", "fifo"], None, "--cpu-scheduling"),  # not a mode
        ([], {"MOCKBACK_CPU_SCHEDULING": "fifo"}, "MOCKBACK_CPU_SCHEDULING"),  # nor here
    ],
)
def test_bad_configuration_exits_non_zero(
    args: list[str], env: dict[str, str] | None, needle: str
) -> None:
    """Bad configuration exits non-zero with a clear line naming the problem."""
    done = run_serve("--ephemeral", *args, env=env)
    assert done.returncode != 0
    assert needle in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_unreadable_yaml_names_the_file(tmp_path: Path) -> None:
    """A mock file that is not valid YAML is named in the error."""
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: [unclosed\n")
    done = run_serve("--ephemeral", "--mocks", str(bad))
    assert done.returncode != 0 and "broken.yaml" in done.stderr


def test_json_logs(start_server: Any, tmp_path: Path) -> None:
    """--log-format json writes one JSON object per line."""
    (tmp_path / "m.yaml").write_text("id: a\nhttp: {route: /a}\n")
    srv: RunningServer = start_server(
        "--ephemeral", "--log-format", "json", "--mocks", str(tmp_path / "m.yaml")
    )
    assert srv.stop() == 0
    lines = [line for line in srv.stderr_text().splitlines() if line.strip()]
    assert lines, "expected log lines"
    for line in lines:
        event = orjson.loads(line)
        assert "event" in event and "level" in event


def test_sigterm_finishes_in_flight_responses(server: RunningServer) -> None:
    """SIGTERM lets a slow response in flight finish, then the server exits 0."""
    server.client.post(
        "/api/v1/mocks",
        json={
            "id": "slow",
            "http": {"route": "/slow"},
            "response": {"delay": 1500, "payload": "done"},
        },
    )
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(server.client.get, "/slow")
        time.sleep(0.4)
        server.proc.send_signal(signal.SIGTERM)
        assert pending.result(timeout=20).text == "done"
    assert server.stop() == 0
