"""Every template example of the behaviour contract (section 3) and of the seed documents."""

from __future__ import annotations

import re
from typing import Any

from mockback.templating import compile_template
from tests.unit.templating.conftest import FIXED_NOW, MakeContext

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
DATE = "2023-11-14T22:13:20Z"
NOW = int(FIXED_NOW)


def _is_uuid(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(UUID, value) is not None


# -- behaviour contract, section 3 -------------------------------------------------------------


def test_contract_amount_keeps_number_type(make_ctx: MakeContext) -> None:
    """`"amount": "$.req.amount"` with body {"amount": 2500} gives the number 2500."""
    rendered = compile_template({"amount": "$.req.amount"}).render(make_ctx(body={"amount": 2500}))
    assert rendered == {"amount": 2500}


def test_contract_pi_uuid(make_ctx: MakeContext) -> None:
    """`"pi_$.fake.UUID"` is the prefix followed by a UUID."""
    assert re.fullmatch("pi_" + UUID, compile_template("pi_$.fake.UUID").render(make_ctx()))


def test_contract_stripe_signature_time(make_ctx: MakeContext) -> None:
    """`"t=$.fake.UnixTime,v1=x"` writes the current Unix time into the text."""
    assert compile_template("t=$.fake.UnixTime,v1=x").render(make_ctx()) == f"t={NOW},v1=x"


def test_contract_order_sentence(make_ctx: MakeContext) -> None:
    """`"Order $.req.orderId processed at $.fake.Date"` fills both expressions."""
    rendered = compile_template("Order $.req.orderId processed at $.fake.Date").render(
        make_ctx(body={"orderId": "o-42"})
    )
    assert rendered == f"Order o-42 processed at {DATE}"


def test_contract_payload_example(make_ctx: MakeContext) -> None:
    """The mock example's payload renders a UUID id and the request's amount."""
    rendered = compile_template({"id": "$.fake.UUID", "amount": "$.req.amount"}).render(
        make_ctx(body={"amount": 2500})
    )
    assert _is_uuid(rendered["id"])
    assert rendered["amount"] == 2500


def test_contract_extract_example(make_ctx: MakeContext) -> None:
    """The extract example stores the request's orderId."""
    rendered = compile_template({"lastOrder": "$.req.orderId"}).render(
        make_ctx(body={"orderId": "o-1"})
    )
    assert rendered == {"lastOrder": "o-1"}


def test_contract_counter_example(make_ctx: MakeContext) -> None:
    """`"n": "$.increment($.gS.n)"` gives 1 on an empty store and counts on from there."""
    template = compile_template({"gStore": {"n": "$.increment($.gS.n)"}})
    assert template.render(make_ctx()) == {"gStore": {"n": 1}}
    assert template.render(make_ctx(global_store={"n": 1})) == {"gStore": {"n": 2}}


def test_contract_condition_operands(make_ctx: MakeContext) -> None:
    """The callback condition's operands `$.req.amount` and `$.reqHeader.X-Mode[0]` resolve."""
    ctx = make_ctx(body={"amount": 150}, headers={"x-mode": ["live"]})
    assert compile_template("$.req.amount").render(ctx) == 150
    assert compile_template("$.reqHeader.X-Mode[0]").render(ctx) == "live"


def test_contract_signing_secret_from_store(make_ctx: MakeContext) -> None:
    """A signing secret written as `"$.gS.key"` resolves from the global store."""
    ctx = make_ctx(global_store={"key": "whsec_abc"})
    assert compile_template("$.gS.key").render(ctx) == "whsec_abc"


def test_contract_null_and_booleans_in_text(make_ctx: MakeContext) -> None:
    """In text, booleans are `true`/`false` and null is `null`; a present null is not unresolved."""
    ctx = make_ctx(body={"ok": True, "no": False, "none": None})
    assert compile_template("$.req.ok $.req.no $.req.none").render(ctx) == "true false null"
    assert compile_template("$.req.none").render(ctx) is None


# -- seed documents ----------------------------------------------------------------------------


def test_seed_minimal_payload(make_ctx: MakeContext) -> None:
    """`{"id": "$.fake.UUID", "status": "succeeded"}` renders a UUID and keeps the status."""
    rendered = compile_template({"id": "$.fake.UUID", "status": "succeeded"}).render(make_ctx())
    assert _is_uuid(rendered["id"])
    assert rendered["status"] == "succeeded"


def test_seed_static_webhook_body_is_static() -> None:
    """The minimal webhook body and header have no expressions and stay as written."""
    body = {"type": "payment_intent.succeeded", "data": {"amount": 2500, "currency": "usd"}}
    assert compile_template(body).is_static
    assert compile_template({"X-Stripe-Signature": "t=123456,v1=abc123"}).is_static


def test_seed_kafka_event(make_ctx: MakeContext) -> None:
    """The Kafka example's key and body take the customer, a UUID and the Unix time."""
    ctx = make_ctx(body={"customerId": "cus_1"})
    assert compile_template("$.req.customerId").render(ctx) == "cus_1"
    body = compile_template(
        {"event": "order.created", "orderId": "$.fake.UUID", "timestamp": "$.fake.UnixTime"}
    ).render(ctx)
    assert body["event"] == "order.created"
    assert _is_uuid(body["orderId"])
    assert body["timestamp"] == NOW


def test_seed_rabbitmq_body(make_ctx: MakeContext) -> None:
    """The RabbitMQ example's body takes the request's e-mail."""
    body = {"type": "email", "to": "$.req.email", "subject": "Your order has been placed"}
    rendered = compile_template(body).render(make_ctx(body={"email": "a@b.io"}))
    assert rendered == {"type": "email", "to": "a@b.io", "subject": "Your order has been placed"}


def test_seed_rabbitmq_exchange_body(make_ctx: MakeContext) -> None:
    """The exchange example's body gets a UUID order id."""
    assert _is_uuid(compile_template({"orderId": "$.fake.UUID"}).render(make_ctx())["orderId"])


def test_seed_request_fields(make_ctx: MakeContext) -> None:
    """The JsonPath example reads body fields and the first Authorization header value."""
    template = compile_template(
        {
            "userId": "$.req.userId",
            "email": "$.req.email",
            "authToken": "$.reqHeader.Authorization[0]",
        }
    )
    ctx = make_ctx(body={"userId": 7, "email": "u@x.io"}, headers={"authorization": ["Bearer t"]})
    assert template.render(ctx) == {"userId": 7, "email": "u@x.io", "authToken": "Bearer t"}


def test_seed_faker_fields(make_ctx: MakeContext) -> None:
    """The Faker example gives a UUID, the Unix time and IPv4 addresses (both spellings)."""
    template = compile_template(
        {
            "webhookId": "$.fake.UUID",
            "timestamp": "$.fake.UnixTime",
            "ip": "$.fake.IPv4",
            "ip2": "$.fake.IPv4Address",
        }
    )
    rendered = template.render(make_ctx())
    assert _is_uuid(rendered["webhookId"])
    assert rendered["timestamp"] == NOW
    for key in ("ip", "ip2"):
        assert re.fullmatch(r"(\d{1,3}\.){3}\d{1,3}", rendered[key])


def test_seed_store_fields(make_ctx: MakeContext) -> None:
    """The store example reads the global, chain and mock stores."""
    template = compile_template(
        {
            "sessionId": "$.gS.currentSession",
            "orderId": "$.cS.orderId",
            "tempValue": "$.mS.computed",
        }
    )
    ctx = make_ctx(
        global_store={"currentSession": "s1"},
        chain_store={"orderId": "o1"},
        mock_store={"computed": 3},
    )
    assert template.render(ctx) == {"sessionId": "s1", "orderId": "o1", "tempValue": 3}


def test_seed_string_body(make_ctx: MakeContext) -> None:
    """A string body with expressions is processed."""
    rendered = compile_template("Order $.req.orderId has been processed at $.fake.Date").render(
        make_ctx(body={"orderId": "o-7"})
    )
    assert rendered == f"Order o-7 has been processed at {DATE}"


def test_seed_response_data(make_ctx: MakeContext) -> None:
    """`$.response.status`, `$.resp.status`, `$.response.data.id` and `$.statusCode` resolve."""
    ctx = make_ctx(response={"status": "ok", "data": {"id": 1}}, status_code=200)
    assert compile_template({"mockResponseStatus": "$.response.status"}).render(ctx) == {
        "mockResponseStatus": "ok"
    }
    assert compile_template(
        {"mockResponseStatus": "$.resp.status", "statusCode": "$.statusCode"}
    ).render(ctx) == {"mockResponseStatus": "ok", "statusCode": 200}
    assert compile_template("$.response.data.id").render(ctx) == 1


def test_seed_stripe_example(make_ctx: MakeContext) -> None:
    """The Stripe example's payload, signature header and nested event body all render."""
    ctx = make_ctx(body={"amount": 2500, "currency": "usd"})
    payload = compile_template(
        {"id": "pi_$.fake.UUID", "status": "succeeded", "amount": "$.req.amount"}
    ).render(ctx)
    assert re.fullmatch("pi_" + UUID, payload["id"])
    assert payload["amount"] == 2500
    headers = compile_template(
        {
            "Stripe-Signature": "t=$.fake.UnixTime,v1=test_signature",
            "Content-Type": "application/json",
        }
    ).render(ctx)
    assert headers == {
        "Stripe-Signature": f"t={NOW},v1=test_signature",
        "Content-Type": "application/json",
    }
    body = compile_template(
        {
            "id": "evt_$.fake.UUID",
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": "pi_$.fake.UUID",
                    "amount": "$.req.amount",
                    "currency": "$.req.currency",
                    "status": "succeeded",
                }
            },
        }
    ).render(ctx)
    assert re.fullmatch("evt_" + UUID, body["id"])
    obj = body["data"]["object"]
    assert re.fullmatch("pi_" + UUID, obj["id"])
    assert (obj["amount"], obj["currency"], obj["status"]) == (2500, "usd", "succeeded")


def test_seed_kafka_order_example(make_ctx: MakeContext) -> None:
    """The order example copies items and total with their types and dates the event."""
    items = [{"sku": "a", "qty": 1}]
    ctx = make_ctx(body={"customerId": "c1", "items": items, "total": 19.99})
    body = compile_template(
        {
            "orderId": "$.fake.UUID",
            "customerId": "$.req.customerId",
            "items": "$.req.items",
            "total": "$.req.total",
            "createdAt": "$.fake.Date",
        }
    ).render(ctx)
    assert _is_uuid(body["orderId"])
    assert (body["customerId"], body["items"], body["total"], body["createdAt"]) == (
        "c1",
        items,
        19.99,
        DATE,
    )


def test_seed_chain_example(make_ctx: MakeContext) -> None:
    """The chain example's payload and callback body copy the order id and amount."""
    ctx = make_ctx(body={"orderId": "o-9", "amount": 10})
    assert compile_template({"paid": True, "orderId": "$.req.orderId"}).render(ctx) == {
        "paid": True,
        "orderId": "o-9",
    }
    body = {"orderId": "$.req.orderId", "event": "payment.completed", "amount": "$.req.amount"}
    assert compile_template(body).render(ctx) == {
        "orderId": "o-9",
        "event": "payment.completed",
        "amount": 10,
    }


def test_seed_unresolved_is_sent_literally(make_ctx: MakeContext) -> None:
    """A `$.req.*` expression whose field is absent is sent as the literal string."""
    assert compile_template({"email": "$.req.email"}).render(make_ctx(body={})) == {
        "email": "$.req.email"
    }
