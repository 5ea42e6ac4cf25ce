"""Secrets in callback configs are masked in answers and kept when the mask comes back."""

from __future__ import annotations

from mockback.secrets import MASK, contains_mask, mask_mock, unmask_mock

STORED = {
    "id": "m",
    "webhooks": [
        {
            "id": "k",
            "type": "kafka",
            "kafkaPassword": "kp",
            "signing": {"scheme": "stripe", "secret": "whsec_x"},
        },
        {"type": "rabbitmq", "rabbitURL": "amqp://guest:s3cret@localhost:5672/"},
        {"url": "http://h", "signing": {"scheme": "github", "secret": ["a", "env:NAME", "$.gS.k"]}},
    ],
}


def test_mask_hides_every_secret_but_references() -> None:
    """Passwords and signing secrets are masked; env: and $.gS references stay readable."""
    masked = mask_mock(STORED)
    hooks = masked["webhooks"]
    assert hooks[0]["kafkaPassword"] == MASK
    assert hooks[0]["signing"]["secret"] == MASK
    assert hooks[1]["rabbitURL"] == f"amqp://guest:{MASK}@localhost:5672/"
    assert hooks[2]["signing"]["secret"] == [MASK, "env:NAME", "$.gS.k"]
    assert "s3cret" not in str(masked) and "kp" not in str(hooks) and "whsec_x" not in str(masked)
    assert STORED["webhooks"][0]["kafkaPassword"] == "kp"  # the input is not changed


def test_mask_sent_back_keeps_the_stored_secret() -> None:
    """Sending the masked view back restores every stored secret."""
    restored = unmask_mock(mask_mock(STORED), STORED)
    assert restored == STORED


def test_new_secret_replaces_the_stored_one() -> None:
    """A secret that is not the mask replaces the stored one."""
    sent = mask_mock(STORED)
    sent["webhooks"][0] = {**sent["webhooks"][0], "kafkaPassword": "new"}
    assert unmask_mock(sent, STORED)["webhooks"][0]["kafkaPassword"] == "new"


def test_callbacks_pair_by_id_before_position() -> None:
    """A reordered callback with an id gets its own stored secret back."""
    sent = mask_mock(STORED)
    sent["webhooks"] = [sent["webhooks"][2], sent["webhooks"][0]]
    restored = unmask_mock(sent, STORED)
    assert restored["webhooks"][1]["kafkaPassword"] == "kp"


def test_mask_without_stored_secret_is_detected() -> None:
    """A mask with nothing behind it stays visible to the caller's check."""
    sent = {"id": "new", "webhooks": [{"type": "kafka", "kafkaPassword": MASK}]}
    assert contains_mask(unmask_mock(sent, None)["webhooks"][0]["kafkaPassword"])
