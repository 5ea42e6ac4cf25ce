"""The delivery log over HTTP: listing, detail with attempts, redeliver, wait, flush, the request
log's delivery ids, bad input, logs, metrics, and the bounded pool."""

from __future__ import annotations

import concurrent.futures
import re
import time
from typing import Any

import pytest

from tests.acceptance.callbacks_support import (
    OPEN_POLICY,
    Hooks,
    elapsed_since,
)
from tests.acceptance.conftest import RunningServer
from tests.support.receiver import Reply, ThreadedReceiver

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def test_detail_shows_the_request_as_sent_and_every_attempt(hooks: Hooks) -> None:
    """A delivery shows its target, request, times, and each attempt with the answer kept."""
    long_body = "x" * (70 * 1024)
    hooks.receiver.script(
        Reply(status=500, headers=(("X-Why", "busy"),), body=b"try later"),
        then=Reply(status=200, body=long_body.encode()),
        path=hooks.path(),
    )
    mock_id = hooks.mock(
        {
            "url": hooks.url(),
            "method": "PUT",
            "headers": {"X-Custom": "$.req.k"},
            "body": {"k": "$.req.k"},
            "retryCount": 1,
            "retryDelay": 0.1,
            "id": "notify",
        }
    )
    hooks.call(body={"k": "v"})
    (ended,) = hooks.ended()
    detail = hooks.server.client.get(f"/api/v1/deliveries/{ended['id']}").json()
    assert detail == ended
    assert detail["id"].startswith("dlv_") and detail["requestId"].startswith("req_")
    assert (detail["mockId"], detail["namespace"], detail["type"]) == (mock_id, "sandbox", "http")
    assert (detail["callbackIndex"], detail["callbackId"]) == (0, "notify")
    assert detail["target"] == hooks.url() and detail["status"] == "succeeded"
    assert detail["attemptCount"] == 2 and detail["error"] is None
    for stamp in ("createdAt", "dueAt", "finishedAt"):
        assert RFC3339.match(detail[stamp]), detail[stamp]
    request = detail["request"]
    assert (request["method"], request["url"], request["body"]) == ("PUT", hooks.url(), '{"k":"v"}')
    assert request["headers"]["X-Custom"] == "v"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Mockback-Delivery-Id"] == detail["id"]
    first, second = detail["attempts"]
    assert (first["number"], first["outcome"], first["statusCode"]) == (1, "failure", 500)
    assert first["responseHeaders"]["x-why"] == "busy"
    assert (first["responseBody"], first["truncated"]) == ("try later", False)
    assert "500" in first["error"] and first["durationMs"] > 0
    assert RFC3339.match(first["startedAt"])
    assert (second["number"], second["outcome"], second["error"]) == (2, "success", None)
    assert second["truncated"] is True and second["responseBody"] == long_body[: 64 * 1024]


def test_list_filters_and_pages(hooks: Hooks) -> None:
    """The list filters by mock, namespace and status, pages with limit/offset, newest first."""
    hooks.receiver.respond(500, path=hooks.path("-bad"))
    ok = hooks.mock({"url": hooks.url()}, key="-ok")
    bad = hooks.mock({"url": hooks.url("-bad")}, key="-bad")
    team = hooks.mock({"url": hooks.url()}, key="-team", namespace="team")
    for key in ("-ok", "-ok", "-bad"):
        hooks.call(key)
    hooks.server.client.post(f"/stubs/team/{team}", json={})
    for mock_id, count in ((ok, 2), (bad, 1), (team, 1)):
        hooks.ended(count, mockId=mock_id)
    listing = hooks.deliveries(ok)
    assert listing["total"] == 2 and [i["mockId"] for i in listing["items"]] == [ok, ok]
    assert "attempts" not in listing["items"][0]
    assert listing["items"][0]["createdAt"] >= listing["items"][1]["createdAt"]
    paged = hooks.deliveries(ok, limit=1, offset=1)
    assert paged["total"] == 2 and paged["items"] == [listing["items"][1]]
    assert (paged["limit"], paged["offset"]) == (1, 1)
    assert hooks.deliveries(bad, status="failed")["total"] == 1
    assert hooks.deliveries(bad, status="succeeded")["total"] == 0
    assert hooks.deliveries(ok, status="failed,succeeded")["total"] == 2
    by_namespace = hooks.server.client.get(
        "/api/v1/deliveries", params={"namespace": "team"}
    ).json()
    assert {i["mockId"] for i in by_namespace["items"]} == {team}


def test_request_log_lists_the_planned_delivery_ids(hooks: Hooks) -> None:
    """Each served request names the deliveries it planned, in callback order."""
    mock_id = hooks.mock({"url": hooks.url("-a")}, {"url": hooks.url("-b")})
    hooks.call()
    (entry,) = hooks.server.client.get("/api/v1/requests", params={"mockId": mock_id}).json()[
        "items"
    ]
    items = hooks.ended(2)
    by_index = {i["callbackIndex"]: i["id"] for i in items}
    assert entry["deliveries"] == [by_index[0], by_index[1]]
    assert {i["requestId"] for i in items} == {entry["id"]}


def test_redeliver_sends_again_under_the_same_id(hooks: Hooks) -> None:
    """Redeliver runs an ended delivery again: same id, attempts numbered on, fresh retries."""
    hooks.receiver.script(Reply(status=500), Reply(status=500), path=hooks.path())
    hooks.mock({"url": hooks.url(), "retryCount": 1, "retryDelay": 0.05})
    hooks.call()
    (failed,) = hooks.ended()
    assert failed["status"] == "failed"
    answer = hooks.server.client.post(f"/api/v1/deliveries/{failed['id']}/redeliver")
    assert answer.status_code == 202 and answer.json()["id"] == failed["id"]
    assert answer.json()["status"] == "pending"
    calls = hooks.calls(3)
    assert {c.headers["X-Mockback-Delivery-Id"] for c in calls} == {failed["id"]}
    (again,) = hooks.ended(status="succeeded")
    assert [a["number"] for a in again["attempts"]] == [1, 2, 3]
    assert again["finishedAt"] >= failed["finishedAt"]
    conflict = hooks.server.client.post("/api/v1/deliveries/dlv_nope/redeliver")
    assert conflict.status_code == 404


def test_redeliver_refuses_a_delivery_still_waiting(hooks: Hooks) -> None:
    """A delivery that has not ended cannot be redelivered: 409 naming its status."""
    mock_id = hooks.mock({"url": hooks.url(), "delay": 3600})
    hooks.call()
    (item,) = hooks.deliveries(mock_id)["items"]
    answer = hooks.server.client.post(f"/api/v1/deliveries/{item['id']}/redeliver")
    assert answer.status_code == 409
    assert "scheduled" in answer.json()["error"]


def test_wait_times_out_with_what_there_is(hooks: Hooks) -> None:
    """Waiting for more deliveries than end answers 408 with those that did."""
    hooks.mock({"url": hooks.url()})
    hooks.call()
    started = time.monotonic()
    answer = hooks.server.client.post(
        "/api/v1/deliveries/wait", json={"count": 2, "timeout": 1, "mockId": hooks.name}
    )
    assert answer.status_code == 408
    assert elapsed_since(started) >= 0.95
    body = answer.json()
    assert "1 of 2" in body["error"] and len(body["items"]) == 1
    assert body["items"][0]["attempts"][0]["outcome"] == "success"


def test_wait_returns_as_soon_as_enough_have_ended(hooks: Hooks) -> None:
    """A wait already under way answers when the deliveries it waits for end."""
    mock_id = hooks.mock({"url": hooks.url(), "delay": 0.8})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        waiting = pool.submit(hooks.ended, 2, 20)
        hooks.call()
        hooks.call()
        items = waiting.result()
    assert 0.75 <= elapsed_since(started) < 15
    assert [i["mockId"] for i in items] == [mock_id, mock_id]


def test_flush_runs_delayed_deliveries_now(hooks: Hooks) -> None:
    """Flush makes every scheduled delivery due at once and says how many."""
    hooks.mock({"url": hooks.url(), "delay": 3600})
    hooks.call()
    hooks.call()
    answer = hooks.server.client.post("/api/v1/deliveries/flush")
    assert answer.status_code == 200 and answer.json()["flushed"] >= 2
    hooks.calls(2, timeout=10)
    assert len(hooks.ended(2, timeout=10)) == 2


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "field"),
    [
        ("GET", "/api/v1/deliveries", {"params": {"limit": 0}}, 400, "query.limit"),
        ("GET", "/api/v1/deliveries", {"params": {"limit": "many"}}, 400, "query.limit"),
        ("GET", "/api/v1/deliveries", {"params": {"limit": 5000}}, 400, "query.limit"),
        ("GET", "/api/v1/deliveries", {"params": {"offset": -1}}, 400, "query.offset"),
        ("GET", "/api/v1/deliveries", {"params": {"status": "lost"}}, 400, "status"),
        ("GET", "/api/v1/deliveries/dlv_missing", {}, 404, "id"),
        ("POST", "/api/v1/deliveries/dlv_missing/redeliver", {}, 404, "id"),
        ("POST", "/api/v1/deliveries/wait", {"json": {"count": 0}}, 400, "count"),
        ("POST", "/api/v1/deliveries/wait", {"json": {"count": "x"}}, 400, "count"),
        ("POST", "/api/v1/deliveries/wait", {"json": {"timeout": -1}}, 400, "timeout"),
        ("POST", "/api/v1/deliveries/wait", {"json": {"timeout": 9999}}, 400, "timeout"),
        ("POST", "/api/v1/deliveries/wait", {"json": {"status": "lost"}}, 400, "status"),
        ("POST", "/api/v1/deliveries/wait", {"json": {"countt": 1}}, 400, "countt"),
        ("POST", "/api/v1/deliveries/wait", {"json": [1]}, 400, "body"),
        ("POST", "/api/v1/deliveries/wait", {"content": b"{nope"}, 400, "body"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    hooks: Hooks, method: str, path: str, kwargs: dict[str, Any], status: int, field: str
) -> None:
    """Bad input to the delivery endpoints is a 4xx error naming the field, never a 500."""
    answer = hooks.server.client.request(method, path, **kwargs)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] and field in [d["field"] for d in body["details"]], body


def test_empty_wait_body_waits_for_one(hooks: Hooks) -> None:
    """A wait without a body uses the defaults: one ended delivery."""
    hooks.mock({"url": hooks.url()})
    hooks.call()
    hooks.calls(1)
    answer = hooks.server.client.post("/api/v1/deliveries/wait")
    assert answer.status_code == 200 and len(answer.json()["items"]) == 1


def test_log_lines_name_delivery_mock_type_attempt_and_target(hooks: Hooks) -> None:
    """Each attempt logs the SPEC message at its level, with the delivery's fields."""
    hooks.receiver.fail_first(1, path=hooks.path("-retried"))
    hooks.receiver.respond(500, path=hooks.path("-failed"))
    hooks.mock({"url": hooks.url("-retried"), "retryCount": 1, "retryDelay": 0.05}, key="-r")
    hooks.mock({"url": hooks.url("-failed")}, key="-f")
    hooks.mock({"url": hooks.url(), "headers": {"X-Bad": "$.req.h"}}, key="-p")
    hooks.call("-r")
    hooks.call("-f")
    hooks.call("-p", body={"h": "line\r\nbreak"})
    retried = hooks.ended(mockId=f"{hooks.name}-r")[0]
    failed = hooks.ended(mockId=f"{hooks.name}-f")[0]
    (unprepared,) = hooks.deliveries(f"{hooks.name}-p")["items"]
    assert unprepared["status"] == "failed" and unprepared["attemptCount"] == 0
    assert "line break" in unprepared["error"]
    deadline = time.monotonic() + 10
    expected = {
        ("Callback attempt failed", "warning", retried["id"], 1),
        ("Callback executed successfully", "info", retried["id"], 2),
        ("Callback attempt failed", "warning", failed["id"], 1),
        ("Callback failed after all retries", "error", failed["id"], 1),
        ("Failed to prepare webhook body", "error", unprepared["id"], 0),
    }
    while True:
        seen = {}
        for message, *_ in expected:
            for e in hooks.log_events(message):
                seen[(message, e["level"], e["delivery_id"], e["attempt"])] = e
        if expected <= seen.keys() or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert expected <= seen.keys(), sorted(seen)
    for (_, _, delivery_id, _), event in seen.items():
        item = {retried["id"]: retried, failed["id"]: failed, unprepared["id"]: unprepared}[
            delivery_id
        ]
        assert event["mock_id"] == item["mockId"] and event["callback_type"] == "http"
        assert event["target"] == item["target"]


def _metric(text: str, name: str) -> float:
    """The value of one sample (name with its labels, as exposed); 0 when absent."""
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key == name:
            return float(value)
    return 0.0


def test_metrics_count_requests_deliveries_and_attempts(hooks: Hooks) -> None:
    """/metrics counts served and unmatched requests, ended deliveries and attempt latency."""
    hooks.receiver.respond(500, path=hooks.path("-bad"))
    hooks.mock({"url": hooks.url()}, key="-ok")
    hooks.mock({"url": hooks.url("-bad")}, key="-bad")
    before = hooks.server.client.get("/metrics").text
    hooks.call("-ok")
    hooks.call("-bad")
    hooks.server.client.get(f"/{hooks.name}-nothing-here")
    hooks.ended(mockId=f"{hooks.name}-ok")
    hooks.ended(mockId=f"{hooks.name}-bad")
    after = hooks.server.client.get("/metrics").text
    for name, grew in (
        ("mockback_requests_served_total", 2),
        ("mockback_requests_unmatched_total", 1),
        ('mockback_deliveries_total{outcome="succeeded",type="http"}', 1),
        ('mockback_deliveries_total{outcome="failed",type="http"}', 1),
        ('mockback_delivery_attempt_seconds_count{outcome="success",type="http"}', 1),
        ('mockback_delivery_attempt_seconds_count{outcome="failure",type="http"}', 1),
    ):
        assert _metric(after, name) - _metric(before, name) == grew, name
    for gauge in (
        "mockback_delivery_backlog",
        "mockback_delivery_pool_in_use",
        "mockback_delivery_pool_size",
    ):
        assert re.search(rf"^{gauge} \d", after, re.M), gauge
    assert 'mockback_delivery_attempt_seconds_bucket{le="0.005",outcome="success"' in after


SLOW = 2.0  # seconds the slow target takes to answer


def test_pool_bounds_concurrent_deliveries_and_never_slows_other_mocks(
    start_server: Any,
) -> None:
    """With WEBHOOK_POOL_SIZE=2 and a slow target, 2 attempts run at once, none is dropped,
    and other mocks answer at their usual speed."""
    server: RunningServer = start_server(
        "--ephemeral", env={**OPEN_POLICY, "WEBHOOK_POOL_SIZE": "2"}
    )
    with ThreadedReceiver() as receiver:
        receiver.respond(200, delay=SLOW, path="/slow")
        for mock in (
            {
                "id": "slow",
                "http": {"route": "/slow"},
                "webhooks": [{"url": receiver.url("/slow")}],
            },
            {"id": "fast", "http": {"route": "/fast"}, "response": {"payload": "fast"}},
        ):
            server.client.post("/api/v1/mocks", json=mock)
        for _ in range(6):
            started = time.monotonic()
            assert server.client.get("/slow").status_code == 200
            assert elapsed_since(started) < 1.5  # async: not held by the slow target
        receiver.wait_for(2, timeout=10, path="/slow")
        time.sleep(0.4)
        assert len(receiver.calls_to("/slow")) == 2
        metrics = server.client.get("/metrics").text
        assert _metric(metrics, "mockback_delivery_pool_in_use") == 2
        assert _metric(metrics, "mockback_delivery_backlog") == 4
        statuses = [i["status"] for i in server.client.get("/api/v1/deliveries").json()["items"]]
        assert sorted(statuses) == ["in_progress"] * 2 + ["pending"] * 4
        for _ in range(5):
            started = time.monotonic()
            assert server.client.get("/fast").text == "fast"
            assert elapsed_since(started) < 1.5
        calls = receiver.wait_for(6, timeout=20, path="/slow")
        arrivals = sorted(c.arrived_monotonic for c in calls)
        # the third arrival waits for the first to finish, and so on
        assert all(
            later - earlier >= SLOW - 0.05
            for earlier, later in zip(arrivals, arrivals[2:], strict=False)
        )
        waited = server.client.post(
            "/api/v1/deliveries/wait", json={"count": 6, "timeout": 20, "status": "succeeded"}
        )
        assert waited.status_code == 200
        assert len({c.headers["X-Mockback-Delivery-Id"] for c in calls}) == 6
