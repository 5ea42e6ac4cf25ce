"""Callbacks that behave like real senders: signatures, conditions, loop guard, outbound policy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from standardwebhooks.webhooks import Webhook

from tests.acceptance.conftest import RunningServer
from tests.support.receiver import ThreadedReceiver

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_OLD = "whsec_" + base64.b64encode(b"an older key, still accepted").decode()


@pytest.fixture
def receiver() -> Iterator[ThreadedReceiver]:
    with ThreadedReceiver() as r:
        yield r


@pytest.fixture
def open_server(start_server: Any) -> RunningServer:
    """A server whose outbound policy lets callbacks reach the loopback receiver."""
    return start_server(
        "--ephemeral",
        env={  # type: ignore[no-any-return]
            "ALLOW_PROXY_TO_PRIVATE_IPS": "true",
            "MOCKBACK_TEST_SECRET": "from-the-environment",
        },
    )


def fire(server: RunningServer, callback: dict[str, Any], body: Any = None) -> None:
    created = server.client.post(
        "/api/v1/mocks",
        json={
            "id": "m",
            "http": {"route": "/pay", "httpMethod": "POST"},
            "response": {"payload": {"id": "pi_$.fake.UUID", "amount": "$.req.amount"}},
            "webhooks": [callback],
        },
    )
    assert created.status_code in (200, 201), created.text
    assert server.client.post("/pay", json=body or {"amount": 2500}).status_code == 200


def test_standard_webhooks_verify_with_the_reference_library(
    open_server: RunningServer, receiver: ThreadedReceiver
) -> None:
    """standard-webhooks signatures verify with the standardwebhooks package, under each rotated key."""
    fire(
        open_server,
        {
            "url": receiver.url("/sw"),
            "body": {"type": "payment.succeeded", "amount": "$.req.amount"},
            "signing": {"scheme": "standard-webhooks", "secret": [SW_SECRET, SW_OLD]},
        },
    )
    call = receiver.wait_for(1, timeout=10)[0]
    headers = {k.lower(): v for k, v in call.headers.items()}
    assert headers["webhook-id"] == headers["x-mockback-delivery-id"]
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (SW_SECRET, SW_OLD):
        payload = Webhook(secret).verify(call.body, headers)
        assert payload == {"type": "payment.succeeded", "amount": 2500}


def test_stripe_signature_verifies_with_stripe_library(
    open_server: RunningServer, receiver: ThreadedReceiver
) -> None:
    """stripe signatures pass stripe.Webhook.construct_event with the whsec_ secret."""
    fire(
        open_server,
        {
            "url": receiver.url("/stripe"),
            "body": {
                "id": "evt_$.fake.UUID",
                "object": "event",
                "type": "payment_intent.succeeded",
                "data": {"object": {"id": "$.response.id", "amount": "$.req.amount"}},
            },
            "signing": {"scheme": "stripe", "secret": "whsec_test_secret"},
        },
    )
    call = receiver.wait_for(1, timeout=10)[0]
    event = stripe.Webhook.construct_event(
        call.body.decode(), call.headers["Stripe-Signature"], "whsec_test_secret"
    )
    assert event["type"] == "payment_intent.succeeded"
    assert event["data"]["object"]["amount"] == 2500


def test_github_signature_matches_the_documented_check(
    open_server: RunningServer, receiver: ThreadedReceiver
) -> None:
    """github signatures match GitHub's documented HMAC check, with a secret from the environment."""
    fire(
        open_server,
        {
            "url": receiver.url("/gh"),
            "body": "raw $.req.amount",
            "signing": {"scheme": "github", "secret": "env:MOCKBACK_TEST_SECRET"},
        },
    )
    call = receiver.wait_for(1, timeout=10)[0]
    assert call.body == b"raw 2500"
    digest = hmac.new(b"from-the-environment", call.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(call.headers["X-Hub-Signature-256"], f"sha256={digest}")


def test_hmac_sha256_custom_header_encoding_prefix_and_store_secret(
    open_server: RunningServer, receiver: ThreadedReceiver
) -> None:
    """hmac-sha256 uses the configured header, encoding and prefix; the secret may come from $.gS."""
    open_server.client.post("/api/v1/stores/global", json={"hookKey": "stored-key"})
    fire(
        open_server,
        {
            "url": receiver.url("/h"),
            "body": {"a": 1},
            "signing": {
                "scheme": "hmac-sha256",
                "secret": "$.gS.hookKey",
                "header": "X-Sig",
                "encoding": "base64",
                "prefix": "",
            },
        },
    )
    call = receiver.wait_for(1, timeout=10)[0]
    expected = base64.b64encode(
        hmac.new(b"stored-key", call.body, hashlib.sha256).digest()
    ).decode()
    assert call.headers["X-Sig"] == expected


def test_retries_keep_the_id_and_sign_afresh(
    open_server: RunningServer, receiver: ThreadedReceiver
) -> None:
    """Every attempt carries the same webhook-id and a valid signature of its own."""
    receiver.fail_first(2, status=500)
    fire(
        open_server,
        {
            "url": receiver.url("/r"),
            "body": {"n": 1},
            "retryCount": 2,
            "retryDelay": 0.2,
            "signing": {"scheme": "standard-webhooks", "secret": SW_SECRET},
        },
    )
    calls = receiver.wait_for(3, timeout=15)
    ids = {c.headers["webhook-id"] for c in calls}
    assert len(ids) == 1
    for call in calls:
        Webhook(SW_SECRET).verify(call.body, {k.lower(): v for k, v in call.headers.items()})


def test_condition_false_is_recorded_as_skipped(
    open_server: RunningServer, receiver: ThreadedReceiver
) -> None:
    """A callback whose condition is false is not sent and its delivery says why."""
    fire(
        open_server,
        {
            "url": receiver.url("/c"),
            "body": {"big": True},
            "condition": '$.req.amount > 100 && $.reqHeader.X-Mode[0] == "live"',
        },
        body={"amount": 50},
    )
    waited = open_server.client.post("/api/v1/deliveries/wait", json={"count": 1, "timeout": 10})
    item = waited.json()["items"][0]
    assert item["status"] == "skipped"
    assert "condition false" in item["error"]
    assert receiver.calls == []


def test_condition_true_fires(open_server: RunningServer, receiver: ThreadedReceiver) -> None:
    """A callback whose condition holds is sent."""
    open_server.client.post(
        "/api/v1/mocks",
        json={
            "id": "m",
            "http": {"route": "/pay", "httpMethod": "POST"},
            "webhooks": [
                {
                    "url": receiver.url("/c"),
                    "body": {"ok": True},
                    "condition": '$.req.amount > 100 && $.reqHeader.X-Mode[0] == "live"',
                }
            ],
        },
    )
    open_server.client.post("/pay", json={"amount": 500}, headers={"X-Mode": "live"})
    assert receiver.wait_for(1, timeout=10)[0].json() == {"ok": True}


def test_condition_syntax_error_points_at_the_position(open_server: RunningServer) -> None:
    """A condition that does not parse is a 400 naming the field and the position."""
    answer = open_server.client.post(
        "/api/v1/mocks",
        json={
            "id": "bad",
            "http": {"route": "/b"},
            "webhooks": [{"url": "http://x/", "condition": "$.req.amount > && true"}],
        },
    )
    assert answer.status_code == 400
    detail = answer.json()["details"][0]
    assert detail["field"] == "webhooks[0].condition"
    assert "position" in detail["problem"]
    assert open_server.client.get("/api/v1/mocks/bad").status_code == 404


def test_deep_requests_fire_no_callbacks(
    open_server: RunningServer, receiver: ThreadedReceiver
) -> None:
    """A request arriving with X-Mockback-Callback-Depth 10 fires nothing; depth 9 still fires."""
    open_server.client.post(
        "/api/v1/mocks",
        json={"id": "m", "http": {"route": "/d"}, "webhooks": [{"url": receiver.url("/d")}]},
    )
    assert (
        open_server.client.get("/d", headers={"X-Mockback-Callback-Depth": "10"}).status_code == 200
    )
    assert (
        open_server.client.get("/d", headers={"X-Mockback-Callback-Depth": "9"}).status_code == 200
    )
    call = receiver.wait_for(1, timeout=10)[0]
    assert call.headers["X-Mockback-Callback-Depth"] == "10"
    assert open_server.client.get("/api/v1/deliveries").json()["total"] == 1


def test_self_loop_ends(open_server: RunningServer) -> None:
    """A mock that calls itself stops after the depth limit instead of looping for ever."""
    url = open_server.url + "/loop"
    open_server.client.post(
        "/api/v1/mocks", json={"id": "loop", "http": {"route": "/loop"}, "webhooks": [{"url": url}]}
    )
    open_server.client.get("/loop")
    waited = open_server.client.post("/api/v1/deliveries/wait", json={"count": 10, "timeout": 20})
    assert waited.status_code == 200
    served = open_server.client.get("/api/v1/requests", params={"limit": 100}).json()
    assert served["total"] == 11  # depth 0 .. 10
    assert open_server.client.get("/api/v1/deliveries").json()["total"] == 10


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",  # plain loopback
        "2130706433",  # decimal spelling
        "0177.0.0.1",  # octal spelling
        "0x7f.0.0.1",  # hex spelling
        "127.1",  # short form
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "localhost",  # a name resolving to loopback
        "[::1]",  # IPv6 loopback
    ],
)
def test_default_policy_blocks_loopback_spellings(start_server: Any, host: str) -> None:
    """With the default policy, every spelling of loopback ends blocked, naming address and setting."""
    server: RunningServer = start_server("--ephemeral")
    server.client.post(
        "/api/v1/mocks",
        json={"id": "m", "http": {"route": "/x"}, "webhooks": [{"url": f"http://{host}:9/hook"}]},
    )
    server.client.get("/x")
    waited = server.client.post("/api/v1/deliveries/wait", json={"count": 1, "timeout": 10})
    item = waited.json()["items"][0]
    assert item["status"] == "blocked", item
    assert "ALLOW_PROXY_TO_PRIVATE_IPS" in item["error"] or "WEBHOOK_ALLOWED_HOSTS" in item["error"]
    assert item["attempts"][0]["outcome"] == "blocked"


def test_allowed_hosts_opens_exactly_what_it_lists(
    start_server: Any, receiver: ThreadedReceiver
) -> None:
    """WEBHOOK_ALLOWED_HOSTS=127.0.0.1 lets that address through without opening private ranges."""
    server: RunningServer = start_server("--ephemeral", env={"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"})
    server.client.post(
        "/api/v1/mocks",
        json={
            "id": "m",
            "http": {"route": "/x"},
            "webhooks": [
                {"url": receiver.url("/ok")},
                {"url": receiver.url("/no", host="127.0.0.2")},
            ],
        },
    )
    server.client.get("/x")
    receiver.wait_for(1, timeout=10)
    waited = server.client.post("/api/v1/deliveries/wait", json={"count": 2, "timeout": 10}).json()
    by_index = {i["callbackIndex"]: i["status"] for i in waited["items"]}
    assert by_index == {0: "succeeded", 1: "blocked"}


def test_self_callback_is_served_in_process_under_default_policy(start_server: Any) -> None:
    """A callback to the server itself is never blocked and shows in the request log."""
    server: RunningServer = start_server("--ephemeral")
    server.client.post(
        "/api/v1/mocks",
        json={
            "id": "receiver",
            "http": {"route": "/internal/notifications", "httpMethod": "POST"},
            "extract": {"gStore": {"lastNotifiedOrder": "$.req.orderId"}},
        },
    )
    server.client.post(
        "/api/v1/mocks",
        json={
            "id": "pay",
            "http": {"route": "/api/pay", "httpMethod": "POST"},
            "response": {"payload": {"paid": True, "orderId": "$.req.orderId"}},
            "webhooks": [
                {
                    "url": f"{server.url}/stubs/sandbox/internal/notifications",
                    "body": {"orderId": "$.req.orderId", "event": "payment.completed"},
                    "async": False,
                    "trigger": "on_success",
                }
            ],
        },
    )
    assert server.client.post("/api/pay", json={"orderId": "o-42"}).json() == {
        "paid": True,
        "orderId": "o-42",
    }
    assert server.client.get("/api/v1/stores/global").json() == {"lastNotifiedOrder": "o-42"}
    served = server.client.get("/api/v1/requests").json()["items"]
    assert served[0]["mockId"] == "pay" and served[1]["mockId"] == "receiver"
    assert json.loads(served[1]["body"])["event"] == "payment.completed"
