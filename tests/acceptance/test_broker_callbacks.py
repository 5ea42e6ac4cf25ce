"""Kafka and RabbitMQ callbacks through a real ``mockback serve``: the seed's examples, end to end.

The server publishes to the session's tansu broker and to the machine's RabbitMQ; consumers of
the test's own read what arrived.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import aio_pika
import orjson
import pytest
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped,unused-ignore]

from tests.acceptance.conftest import RunningServer
from tests.support.brokers import (
    RABBIT_ANSWER,
    Tansu,
    rabbit_connection,
    rabbit_messages,
    rabbitmq,
    running_tansu,
)
from tests.support.receiver import ThreadedReceiver

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def tansu() -> Iterator[Tansu]:
    """A Kafka broker for this module."""
    with running_tansu() as broker:
        yield broker


@pytest.fixture
def rabbitmq_url() -> str:
    """The machine's RabbitMQ."""
    return rabbitmq()


OPEN_POLICY = {"ALLOW_PROXY_TO_PRIVATE_IPS": "true"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def kafka_records(bootstrap: str, topic: str, count: int, timeout: float = 15) -> list[Any]:
    """The first ``count`` records of a topic."""

    async def read() -> list[Any]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        records: list[Any] = []
        try:
            async with asyncio.timeout(timeout):
                while len(records) < count:
                    for part in (await consumer.getmany(timeout_ms=200)).values():
                        records.extend(part)
        finally:
            await consumer.stop()
        return records

    return asyncio.run(read())


class RabbitQueue:
    """A durable-less queue declared for one test, read and deleted afterwards."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = unique("notifications")
        asyncio.run(self._run(declare=True))

    async def _run(self, *, declare: bool = False, delete: bool = False) -> None:
        async with rabbit_connection(self.url) as connection:
            channel = await asyncio.wait_for(connection.channel(), RABBIT_ANSWER)
            if declare:
                await channel.declare_queue(self.name, auto_delete=False, timeout=RABBIT_ANSWER)
            if delete:
                await channel.queue_delete(self.name, timeout=RABBIT_ANSWER)

    def messages(
        self, count: int, timeout: float = 15
    ) -> list[aio_pika.abc.AbstractIncomingMessage]:
        """The next ``count`` messages, acknowledged; TimeoutError if fewer arrive in time."""

        async def read() -> list[aio_pika.abc.AbstractIncomingMessage]:
            async with rabbit_connection(self.url) as connection:
                channel = await asyncio.wait_for(connection.channel(), RABBIT_ANSWER)
                queue = await asyncio.wait_for(channel.get_queue(self.name), RABBIT_ANSWER)
                return await rabbit_messages(queue, count, timeout)

        return asyncio.run(read())

    def delete(self) -> None:
        """Remove the queue."""
        asyncio.run(self._run(delete=True))


def wait_ended(server: RunningServer, mock_id: str, count: int) -> list[dict[str, Any]]:
    """Deliveries of a mock once ``count`` of them have ended."""
    answer = server.client.post(
        "/api/v1/deliveries/wait",
        json={"count": count, "timeout": 20, "mockId": mock_id},
        timeout=40,
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_seed_example_2_kafka_event_on_order_creation(start_server: Any, tansu: Tansu) -> None:
    """The seed's "Forward Kafka Message on Order Creation" publishes the templated event."""
    server: RunningServer = start_server("--ephemeral", env=OPEN_POLICY)
    topic = unique("orders.events")
    mock = {
        "id": "order-with-kafka-event",
        "http": {"route": "/api/orders", "httpMethod": "POST"},
        "response": {"statusCode": 201, "payload": {"orderId": "$.fake.UUID", "status": "created"}},
        "webhooks": [
            {
                "type": "kafka",
                "kafkaBrokers": tansu.bootstrap,
                "kafkaTopic": topic,
                "kafkaKey": "$.req.customerId",
                "headers": {"event-type": "order.created", "source": "order-service"},
                "body": {
                    "orderId": "$.fake.UUID",
                    "customerId": "$.req.customerId",
                    "items": "$.req.items",
                    "total": "$.req.total",
                    "createdAt": "$.fake.Date",
                },
                "trigger": "on_success",
            }
        ],
    }
    created = server.client.post("/api/v1/mocks", json=mock)
    assert created.status_code in (200, 201), created.text
    order = {"customerId": "cust-42", "items": [{"sku": "A-1", "qty": 2}], "total": 99.5}
    answer = server.client.post("/api/orders", json=order)
    assert answer.status_code == 201

    (delivery,) = wait_ended(server, "order-with-kafka-event", 1)
    assert delivery["type"] == "kafka"
    assert delivery["status"] == "succeeded", delivery
    (record,) = kafka_records(tansu.bootstrap, topic, 1)
    assert record.key == b"cust-42"
    headers = dict(record.headers)
    assert headers["event-type"] == b"order.created"
    assert headers["source"] == b"order-service"
    assert headers["x-mockback-delivery-id"] == delivery["id"].encode()
    assert "Content-Type" not in headers and "content-type" not in headers
    value = orjson.loads(record.value)
    assert value["customerId"] == "cust-42"
    assert value["items"] == [{"sku": "A-1", "qty": 2}]
    assert value["total"] == 99.5
    assert uuid.UUID(value["orderId"])


def test_seed_example_5_http_kafka_and_rabbitmq_on_one_mock(
    start_server: Any, tansu: Tansu, rabbitmq_url: str
) -> None:
    """The seed's "Multiple Callbacks on One Mock": an HTTP call, a Kafka record, an AMQP message."""
    server: RunningServer = start_server("--ephemeral", env=OPEN_POLICY)
    topic = unique("orders.events")
    queue = RabbitQueue(rabbitmq_url)
    try:
        with ThreadedReceiver() as receiver:
            mock = {
                "id": "multi-callback",
                "http": {"route": "/api/orders", "httpMethod": "POST"},
                "response": {"statusCode": 200, "payload": {"ok": True}},
                "webhooks": [
                    {
                        "type": "http",
                        "url": receiver.url("/log"),
                        "body": {"event": "order.created"},
                        "trigger": "always",
                    },
                    {
                        "type": "kafka",
                        "kafkaBrokers": tansu.bootstrap,
                        "kafkaTopic": topic,
                        "body": {"event": "order.created"},
                        "trigger": "on_success",
                    },
                    {
                        "type": "rabbitmq",
                        "rabbitURL": rabbitmq_url,
                        "rabbitQueue": queue.name,
                        "body": {"notify": True},
                        "trigger": "on_success",
                    },
                ],
            }
            created = server.client.post("/api/v1/mocks", json=mock)
            assert created.status_code in (200, 201), created.text
            assert server.client.post("/api/orders", json={}).status_code == 200

            deliveries = wait_ended(server, "multi-callback", 3)
            by_type = {d["type"]: d for d in deliveries}
            assert {d["status"] for d in deliveries} == {"succeeded"}, deliveries
            (call,) = receiver.wait_for(1, timeout=15, path="/log")
            assert call.json() == {"event": "order.created"}
        (record,) = kafka_records(tansu.bootstrap, topic, 1)
        assert orjson.loads(record.value) == {"event": "order.created"}
        assert dict(record.headers)["x-mockback-delivery-id"] == by_type["kafka"]["id"].encode()
        (message,) = queue.messages(1)
        assert orjson.loads(message.body) == {"notify": True}
        assert message.content_type == "application/json"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.message_id == by_type["rabbitmq"]["id"]
    finally:
        queue.delete()


def test_loopback_brokers_are_blocked_by_default(
    start_server: Any, tansu: Tansu, rabbitmq_url: str
) -> None:
    """Without ALLOW_PROXY_TO_PRIVATE_IPS, loopback brokers are refused and nothing is sent."""
    server: RunningServer = start_server("--ephemeral")
    topic = unique("blocked")
    queue = RabbitQueue(rabbitmq_url)
    try:
        mock = {
            "id": "blocked-brokers",
            "http": {"route": "/blocked", "httpMethod": "POST"},
            "response": {"statusCode": 200},
            "webhooks": [
                {"type": "kafka", "kafkaBrokers": tansu.bootstrap, "kafkaTopic": topic},
                {"type": "rabbitmq", "rabbitURL": rabbitmq_url, "rabbitQueue": queue.name},
            ],
        }
        assert server.client.post("/api/v1/mocks", json=mock).status_code in (200, 201)
        assert server.client.post("/blocked", json={}).status_code == 200
        deliveries = wait_ended(server, "blocked-brokers", 2)
        assert {d["status"] for d in deliveries} == {"blocked"}, deliveries
        for delivery in deliveries:
            assert "127.0.0.1" in delivery["error"]
            assert "ALLOW_PROXY_TO_PRIVATE_IPS" in delivery["error"]
            assert "guest:guest" not in str(delivery)
        with pytest.raises(TimeoutError):
            queue.messages(1, timeout=1)
    finally:
        queue.delete()
