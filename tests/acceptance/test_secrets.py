"""Secrets in callback configs are write-only: masked in every answer, kept when sent back."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tests.acceptance.conftest import RunningServer
from tests.support.receiver import ThreadedReceiver

CANARY = "canary-7f3a9c"


def test_secrets_never_come_back_and_survive_a_round_trip(start_server: Any) -> None:
    """No answer shows a secret; PUT of the masked view keeps the stored secret (it still signs)."""
    server: RunningServer = start_server("--ephemeral", env={"ALLOW_PROXY_TO_PRIVATE_IPS": "true"})
    with ThreadedReceiver() as receiver:
        mock = {
            "id": "s",
            "http": {"route": "/s"},
            "webhooks": [
                {
                    "url": receiver.url("/hook"),
                    "body": {"a": 1},
                    "signing": {"scheme": "github", "secret": CANARY},
                },
                {
                    "type": "kafka",
                    "kafkaBrokers": "127.0.0.1:1",
                    "kafkaTopic": "t",
                    "kafkaUseSASL": True,
                    "kafkaUsername": "u",
                    "kafkaPassword": CANARY,
                    "trigger": "on_error",
                },
                {
                    "type": "rabbitmq",
                    "rabbitURL": f"amqp://guest:{CANARY}@127.0.0.1:1/",
                    "trigger": "on_error",
                },
            ],
        }
        answers = [server.client.post("/api/v1/mocks", json=mock).text]
        view = server.client.get("/api/v1/mocks/s").json()
        answers.append(str(view))
        answers.append(server.client.get("/api/v1/mocks").text)
        for key in ("createdAt", "updatedAt", "deleted", "deletedAt"):
            view.pop(key)
        put = server.client.put("/api/v1/mocks/s", json=view)
        assert put.status_code == 200, put.text
        answers.append(put.text)
        answers.append(server.client.patch("/api/v1/mocks/s", json={"priority": 1}).text)
        assert server.client.get("/s").status_code == 200
        call = receiver.wait_for(1, timeout=10)[0]
        answers.append(server.client.get("/api/v1/deliveries").text)
        answers.append(server.client.get("/api/v1/requests").text)
        for text in answers:
            assert CANARY not in text
        expected = "sha256=" + hmac.new(CANARY.encode(), call.body, hashlib.sha256).hexdigest()
        assert call.headers["X-Hub-Signature-256"] == expected
        assert CANARY not in server.stderr_text()


def test_mask_for_a_new_secret_is_rejected(start_server: Any) -> None:
    """Sending the mask where no secret is stored is a 400 naming the field."""
    server: RunningServer = start_server("--ephemeral")
    answer = server.client.post(
        "/api/v1/mocks",
        json={
            "id": "n",
            "http": {"route": "/n"},
            "webhooks": [
                {"url": "http://x/", "signing": {"scheme": "github", "secret": "********"}}
            ],
        },
    )
    assert answer.status_code == 400
    assert answer.json()["details"][0]["field"] == "webhooks[0].signing"
