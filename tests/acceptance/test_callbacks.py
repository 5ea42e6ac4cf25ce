"""HTTP callbacks end to end: the real server calls a real receiver.

Triggers, async and sync callbacks, delays, timeouts, retries and their timing, Retry-After, 410,
redirects, refused connections, bodies and templates, the delivery headers, and the rule that a
callback never changes the mock's answer. Timings are checked with generous margins: lower
bounds are what the rules promise; upper bounds only tell a capped wait from an uncapped one.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import orjson
import pytest

from tests.acceptance.callbacks_support import (
    Hooks,
    elapsed_since,
    gaps,
)
from tests.acceptance.conftest import RunningServer
from tests.support.receiver import Reply, ThreadedReceiver


@pytest.mark.parametrize(
    ("trigger", "status", "fires"),
    [
        ("on_success", 200, True),  # 2xx fires on_success
        ("on_success", 299, True),  # ...up to 299
        ("on_success", 302, False),  # 3xx fires only always
        ("on_success", 404, False),  # an error is not a success
        ("on_error", 400, True),  # 4xx fires on_error
        ("on_error", 503, True),  # 5xx too
        ("on_error", 200, False),  # a success is not an error
        ("on_error", 302, False),  # 3xx fires only always
        ("always", 302, True),  # always fires for 3xx
        ("always", 500, True),  # ...and for everything else
    ],
)
def test_trigger_rules(hooks: Hooks, trigger: str, status: int, fires: bool) -> None:
    """A callback fires according to its trigger and the response status."""
    mock_id = hooks.mock({"url": hooks.url(), "trigger": trigger}, status=status)
    answer = hooks.call()
    assert answer.status_code == status
    # Planning happens before the answer: the delivery list is already final here.
    assert hooks.deliveries(mock_id)["total"] == (1 if fires else 0)
    logged = hooks.server.client.get("/api/v1/requests", params={"mockId": mock_id}).json()
    assert len(logged["items"][0]["deliveries"]) == (1 if fires else 0)
    if fires:
        hooks.calls(1)


def test_async_callback_returns_at_once_and_times_out(hooks: Hooks) -> None:
    """The answer does not wait for an async callback; a hanging target is a timeout outcome."""
    hooks.receiver.hang(path=hooks.path())
    hooks.mock({"url": hooks.url(), "timeout": 2})
    started = time.monotonic()
    assert hooks.call().status_code == 200
    assert elapsed_since(started) < 1.5  # the attempt itself takes 2 s
    (item,) = hooks.ended()
    assert item["status"] == "failed" and item["async"] is True
    (attempt,) = item["attempts"]
    assert attempt["outcome"] == "timeout" and attempt["statusCode"] is None
    assert attempt["durationMs"] >= 1900
    assert "2 s" in attempt["error"]


def test_sync_callback_holds_the_answer_until_every_attempt(hooks: Hooks) -> None:
    """async:false answers once the callback has finished, retries included."""
    hooks.receiver.fail_first(2, path=hooks.path())
    mock_id = hooks.mock(
        {"url": hooks.url(), "async": False, "retryCount": 2, "retryDelay": 0.2},
        payload={"ok": True},
    )
    started = time.monotonic()
    answer = hooks.call()
    assert elapsed_since(started) >= 0.4
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    calls = hooks.receiver.calls_to(hooks.path())
    assert len(calls) == 3
    ids = {c.headers["X-Mockback-Delivery-Id"] for c in calls}
    assert len(ids) == 1  # one delivery, the same id on every attempt
    # Nothing to wait for: the delivery ended before the answer was sent.
    (item,) = hooks.deliveries(mock_id)["items"]
    assert item["id"] == ids.pop()
    assert (item["status"], item["attemptCount"], item["async"]) == ("succeeded", 3, False)


def test_delay_postpones_the_first_attempt(hooks: Hooks) -> None:
    """A fractional delay holds the first attempt; meanwhile the delivery is scheduled."""
    mock_id = hooks.mock({"url": hooks.url(), "delay": 1.5})
    started = time.monotonic()
    hooks.call()
    assert elapsed_since(started) < 1.0
    (item,) = hooks.deliveries(mock_id)["items"]
    assert item["status"] == "scheduled" and item["attemptCount"] == 0
    (call,) = hooks.calls(1)
    assert call.arrived_monotonic - started >= 1.45


def test_retry_delay_counts_from_the_end_of_the_failed_attempt(hooks: Hooks) -> None:
    """A slow failure (0.5 s) then retryDelay 0.3: the retry starts at least 0.8 s later."""
    hooks.receiver.script(Reply(status=500, delay=0.5), path=hooks.path())
    hooks.mock({"url": hooks.url(), "retryCount": 1, "retryDelay": 0.3})
    hooks.call()
    calls = hooks.calls(2)
    assert gaps(calls)[0] >= 0.78
    (item,) = hooks.ended()
    assert [a["outcome"] for a in item["attempts"]] == ["failure", "success"]
    assert item["attempts"][0]["durationMs"] >= 490


def test_exponential_backoff_is_capped(hooks: Hooks) -> None:
    """Waits double from retryDelay and stop growing at maxRetryDelay."""
    hooks.receiver.fail_first(4, path=hooks.path())
    hooks.mock(
        {
            "url": hooks.url(),
            "retryCount": 4,
            "retryDelay": 0.2,
            "backoff": "exponential",
            "maxRetryDelay": 0.4,
        }
    )
    hooks.call()
    waits = gaps(hooks.calls(5))
    assert [w >= low for w, low in zip(waits, (0.19, 0.39, 0.39, 0.39), strict=True)] == [True] * 4
    assert waits[3] < 1.2  # uncapped it would be 1.6 s
    assert hooks.ended()[0]["status"] == "succeeded"


def test_jitter_keeps_at_least_half_the_wait(hooks: Hooks) -> None:
    """With jitter each wait is at least half the configured one."""
    hooks.receiver.fail_first(2, path=hooks.path())
    hooks.mock({"url": hooks.url(), "retryCount": 2, "retryDelay": 0.4, "jitter": True})
    hooks.call()
    assert all(w >= 0.19 for w in gaps(hooks.calls(3)))


@pytest.mark.parametrize(
    ("status", "retry_after", "callback", "low", "high"),
    [
        # Retry-After longer than retryDelay wins
        (429, "1", {"retryDelay": 0.1}, 0.95, 8.0),
        # ...and is capped by maxRetryDelay
        (503, "30", {"retryDelay": 0.1, "maxRetryDelay": 0.5}, 0.45, 8.0),
        # a shorter Retry-After does not shorten retryDelay
        (503, "0", {"retryDelay": 0.6}, 0.55, 8.0),
        # only 429 and 503 are read: a 500's Retry-After is ignored
        (500, "30", {"retryDelay": 0.1}, 0.09, 8.0),
    ],
)
def test_retry_after(
    hooks: Hooks, status: int, retry_after: str, callback: dict[str, Any], low: float, high: float
) -> None:
    """Retry-After on 429/503 sets the wait: the larger of it and retryDelay, capped."""
    hooks.receiver.script(
        Reply(status=status, headers=(("Retry-After", retry_after),)), path=hooks.path()
    )
    hooks.mock({"url": hooks.url(), "retryCount": 1, **callback})
    hooks.call()
    (wait,) = gaps(hooks.calls(2))
    assert low <= wait < high
    assert hooks.ended()[0]["attempts"][0]["responseHeaders"]["retry-after"] == retry_after


def test_gone_ends_failed_at_once(hooks: Hooks) -> None:
    """A 410 answer ends the delivery failed without using its retries."""
    hooks.receiver.respond(410, path=hooks.path())
    hooks.mock({"url": hooks.url(), "retryCount": 5, "retryDelay": 0.1})
    hooks.call()
    (item,) = hooks.ended()
    assert (item["status"], item["attemptCount"]) == ("failed", 1)
    assert "gone" in item["error"]
    time.sleep(0.5)
    assert len(hooks.receiver.calls_to(hooks.path())) == 1


def test_redirect_is_a_failure_and_never_followed(hooks: Hooks) -> None:
    """A 3xx answer is a failed attempt; its Location is not visited."""
    elsewhere = hooks.url("-elsewhere")
    hooks.receiver.respond(302, headers={"Location": elsewhere}, path=hooks.path())
    hooks.mock({"url": hooks.url(), "retryCount": 1, "retryDelay": 0.1})
    hooks.call()
    (item,) = hooks.ended()
    assert item["status"] == "failed"
    assert [(a["outcome"], a["statusCode"]) for a in item["attempts"]] == [("failure", 302)] * 2
    assert "redirect" in item["error"] and elsewhere in item["error"]
    assert hooks.receiver.calls_to(hooks.path("-elsewhere")) == []


def test_connection_refused_is_an_error_outcome(hooks: Hooks) -> None:
    """A target that refuses connections gives error attempts naming the address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    hooks.mock({"url": f"http://127.0.0.1:{port}/x", "retryCount": 1, "retryDelay": 0.1})
    hooks.call()
    (item,) = hooks.ended()
    assert item["status"] == "failed"
    assert [a["outcome"] for a in item["attempts"]] == ["error", "error"]
    assert f"127.0.0.1:{port}" in item["error"]


@pytest.mark.parametrize(
    ("body", "headers", "sent", "content_type"),
    [
        # an object is sent as compact JSON, typed as such
        ({"a": 1, "b": [True, None]}, {}, b'{"a":1,"b":[true,null]}', "application/json"),
        # an array too
        ([1, "two"], {}, b'[1,"two"]', "application/json"),
        # a string is sent as is after substitution, with no type added
        ("order=$.req.orderId&n=$.req.n", {}, b"order=o-7&n=3", None),
        # the callback's own Content-Type is kept (any spelling), and not doubled
        (
            {"a": 1},
            {"content-type": "application/vnd.api+json"},
            b'{"a":1}',
            "application/vnd.api+json",
        ),
        # a string with the callback's type
        ("<x>$.req.n</x>", {"Content-Type": "application/xml"}, b"<x>3</x>", "application/xml"),
        # no body: nothing sent, no type
        (None, {}, b"", None),
    ],
)
def test_bodies(
    hooks: Hooks, body: Any, headers: dict[str, str], sent: bytes, content_type: str | None
) -> None:
    """Object and array bodies go as JSON; strings as they are; the callback's type wins."""
    hooks.mock({"url": hooks.url(), "body": body, "headers": headers})
    hooks.call(body={"orderId": "o-7", "n": 3})
    (call,) = hooks.calls(1)
    assert call.body == sent
    assert call.headers.getall("Content-Type", []) == ([content_type] if content_type else [])


def test_templated_url_headers_and_body(hooks: Hooks) -> None:
    """url, headers and body render the request, the response, the status, fakes and stores."""
    key = f"{hooks.name}-tenant"
    stored = hooks.server.client.post("/api/v1/stores/global", json={key: "acme"})
    assert stored.status_code == 200
    hooks.mock(
        {
            "url": hooks.url("/$.pathParams.id?tenant=$.gS." + key + "&q=$.queryParams.q"),
            "headers": {
                "X-Status": "$.statusCode",
                "X-Order": "$.req.orderId",
                "X-Resp-Id": "$.response.id",
                "X-Trace": "t-$.reqHeader.X-Trace[0]",
                "X-Whole": "$.req.items",
            },
            "body": {
                "req": "$.req",
                "resp": "$.resp",
                "id": "$.response.id",
                "status": "$.statusCode",
                "uuid": "$.fake.UUID",
                "tenant": "$.gS." + key,
                "text": "Order $.req.orderId is $.response.state",
                "missing": "$.req.nope",
            },
        },
        status=201,
        payload={"id": "$.fake.UUID", "state": "paid"},
        route=f"/{hooks.name}/:id",
    )
    request_body = {"orderId": "o-1", "items": [1, 2]}
    answer = hooks.server.client.post(
        f"/{hooks.name}/42?q=yes", json=request_body, headers={"X-Trace": "abc"}
    )
    assert answer.status_code == 201
    response = answer.json()
    (call,) = hooks.calls(1, "/42")
    assert dict(call.query) == {"tenant": "acme", "q": "yes"}
    assert call.headers["X-Status"] == "201"
    assert call.headers["X-Order"] == "o-1"
    assert call.headers["X-Resp-Id"] == response["id"]
    assert call.headers["X-Trace"] == "t-abc"
    assert call.headers["X-Whole"] == "[1,2]"
    sent = call.json()
    assert sent["req"] == request_body and sent["resp"] == response
    assert sent["id"] == response["id"] and sent["status"] == 201
    assert len(sent["uuid"]) == 36 and sent["uuid"] != response["id"]
    assert sent["tenant"] == "acme"
    assert sent["text"] == "Order o-1 is paid"
    assert sent["missing"] == "$.req.nope"  # unresolved expressions stay as written


@pytest.mark.parametrize(
    ("incoming", "sent"),
    [
        (None, "1"),  # a request without the header has depth 0
        ("3", "4"),  # the callback is one deeper than the request
        ("9", "10"),  # the last depth that still fires
    ],
)
def test_depth_header(hooks: Hooks, incoming: str | None, sent: str) -> None:
    """X-Mockback-Callback-Depth is the request's depth plus one; the id header is the delivery's."""
    mock_id = hooks.mock({"url": hooks.url()})
    headers = {} if incoming is None else {"X-Mockback-Callback-Depth": incoming}
    hooks.call(headers=headers)
    (call,) = hooks.calls(1)
    assert call.headers["X-Mockback-Callback-Depth"] == sent
    (item,) = hooks.deliveries(mock_id)["items"]
    assert call.headers["X-Mockback-Delivery-Id"] == item["id"]
    assert item["request"]["headers"]["X-Mockback-Callback-Depth"] == sent


def test_too_deep_request_plans_nothing(hooks: Hooks) -> None:
    """A request arriving with depth 10 is answered and fires no callbacks."""
    mock_id = hooks.mock({"url": hooks.url()}, payload={"ok": True})
    answer = hooks.call(headers={"X-Mockback-Callback-Depth": "10"})
    assert answer.json() == {"ok": True}
    assert hooks.deliveries(mock_id)["total"] == 0
    logged = hooks.server.client.get("/api/v1/requests", params={"mockId": mock_id}).json()
    assert logged["items"][0]["deliveries"] == []


@pytest.mark.parametrize("is_async", [True, False])
def test_callback_failure_never_changes_the_answer(hooks: Hooks, is_async: bool) -> None:
    """A failing callback, sync or async, leaves the mock's status, headers and body as set."""
    hooks.receiver.respond(500, path=hooks.path())
    answer_of: dict[str, Any] = {}
    for key, webhooks in (("-plain", []), ("-hooked", [{"url": hooks.url(), "async": is_async}])):
        hooks.mock(
            *webhooks,
            key=key,
            status=201,
            payload={"ok": True},
            route=f"/{hooks.name}{key}",
        )
        created = hooks.server.client.get(f"/api/v1/mocks/{hooks.name}{key}").json()
        created["response"]["headers"] = {"X-A": "b"}
        assert hooks.server.client.put(f"/api/v1/mocks/{hooks.name}{key}", json=created).is_success
        answer = hooks.call(key)
        answer_of[key] = (answer.status_code, answer.headers["x-a"], answer.content)
    assert answer_of["-hooked"] == answer_of["-plain"] == (201, "b", b'{"ok":true}')
    hooks.calls(1)


def _seed_chain(server: RunningServer) -> None:
    """The seed's example 3: a payment mock whose sync callback calls a mock of this server."""
    port = server.url.rsplit(":", 1)[1]
    for mock in (
        {
            "id": "notification-receiver",
            "http": {"route": "/internal/notifications", "httpMethod": "POST"},
            "response": {"statusCode": 200, "payload": {"notified": True}},
            "extract": {"gStore": {"lastNotifiedOrder": "$.req.orderId"}},
        },
        {
            "id": "payment-with-chain",
            "http": {"route": "/api/pay", "httpMethod": "POST"},
            "response": {"statusCode": 200, "payload": {"paid": True, "orderId": "$.req.orderId"}},
            "webhooks": [
                {
                    "url": f"http://localhost:{port}/stubs/sandbox/internal/notifications",
                    "method": "POST",
                    "body": {
                        "orderId": "$.req.orderId",
                        "event": "payment.completed",
                        "amount": "$.req.amount",
                    },
                    "async": False,
                    "trigger": "on_success",
                }
            ],
        },
    ):
        assert server.client.post("/api/v1/mocks", json=mock).status_code == 201


def test_self_callback_is_served_in_process_under_the_default_policy(start_server: Any) -> None:
    """The seed's chain works without opening private addresses, and shows in both logs."""
    server: RunningServer = start_server("--ephemeral", "--log-format", "json")
    _seed_chain(server)
    answer = server.client.post("/api/pay", json={"orderId": "o-1", "amount": 2500})
    assert answer.json() == {"paid": True, "orderId": "o-1"}
    # The callback is sync: by now it has run and its extraction is visible.
    assert server.client.get("/api/v1/stores/global").json() == {"lastNotifiedOrder": "o-1"}
    (item,) = server.client.get("/api/v1/deliveries").json()["items"]
    assert item["status"] == "succeeded" and item["mockId"] == "payment-with-chain"
    detail = server.client.get(f"/api/v1/deliveries/{item['id']}").json()
    assert detail["attempts"][0]["responseBody"] == '{"notified":true}'
    served = server.client.get("/api/v1/requests").json()["items"]
    by_mock = {s["mockId"]: s for s in served}
    assert by_mock["payment-with-chain"]["deliveries"] == [item["id"]]
    notified = by_mock["notification-receiver"]
    assert orjson.loads(notified["body"]) == {
        "orderId": "o-1",
        "event": "payment.completed",
        "amount": 2500,
    }
    assert notified["headers"]["x-mockback-delivery-id"] == item["id"]
    assert notified["headers"]["x-mockback-callback-depth"] == "1"


def test_default_policy_blocks_the_loopback_receiver(start_server: Any) -> None:
    """Without ALLOW_PROXY_TO_PRIVATE_IPS a loopback target ends blocked, naming what to set."""
    server: RunningServer = start_server("--ephemeral", "--log-format", "json")
    with ThreadedReceiver() as receiver:
        server.client.post(
            "/api/v1/mocks",
            json={
                "id": "m",
                "http": {"route": "/x"},
                "webhooks": [{"url": receiver.url("/hook"), "retryCount": 3}],
            },
        )
        server.client.get("/x")
        waited = server.client.post("/api/v1/deliveries/wait", json={"count": 1, "timeout": 10})
        (item,) = waited.json()["items"]
        assert item["status"] == "blocked" and item["attemptCount"] == 1
        assert "127.0.0.1" in item["error"] and "ALLOW_PROXY_TO_PRIVATE_IPS" in item["error"]
        time.sleep(0.3)
        assert receiver.calls == []
    metrics = server.client.get("/metrics").text
    assert 'mockback_deliveries_total{outcome="blocked",type="http"} 1.0' in metrics
