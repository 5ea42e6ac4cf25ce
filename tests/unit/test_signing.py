"""Signature headers: the published vectors and the receivers' own verification libraries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any

import pytest
import standardwebhooks.webhooks
import stripe

from mockback.delivery.signing import (
    SigningError,
    SigningScheme,
    SigningSpec,
    resolve_secret,
    resolve_secrets,
    sign,
    standard_webhooks_key,
)

# The vectors of the shared contract file `vectors/signing.json`, copied here so that unit tests
# read no files; each row keeps the file's `source`.
VECTORS: dict[str, list[dict[str, Any]]] = {
    "standard-webhooks": [
        {
            "source": "standard-webhooks reference libraries, test_sign_function",
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "timestamp": 1614265330,
            "body": '{"test": 2432232314}',
            "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        },
        {
            "source": "same file, a signature that must NOT verify",
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "timestamp": 1614265330,
            "body": '{"test": 2432232314}',
            "invalid_signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
        },
    ],
    "github": [
        {
            "source": "GitHub docs, validating webhook deliveries",
            "secret": "It's a Secret to Everybody",
            "body": "Hello, World!",
            "header": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        }
    ],
    "stripe": [
        {
            "source": "computed with the algorithm of Stripe's Python library",
            "secret": "whsec_test_secret",
            "timestamp": 1614265330,
            "body": '{"id":"evt_test_webhook","object":"event"}',
            "header": "t=1614265330,"
            "v1=3c5817089d739023dd6190f70a3757e04f7a2fd8b5dab12c2e000f51970dccff",
        }
    ],
}


def _vectors(scheme: str, field: str) -> list[dict[str, Any]]:
    return [v for v in VECTORS[scheme] if field in v]


def _sw_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    assert len({name.lower() for name, _ in pairs}) == len(pairs)
    return dict(pairs)


def _spec(scheme: SigningScheme, *keys: str, **options: Any) -> SigningSpec:
    return SigningSpec(scheme=scheme, secrets=keys, **options)


# --- published vectors ------------------------------------------------------------------------


@pytest.mark.parametrize("vector", _vectors("standard-webhooks", "signature"))
def test_standard_webhooks_vector(vector: dict[str, Any]) -> None:
    """A standard-webhooks signature equals the reference libraries' published one."""
    spec = _spec(SigningScheme.STANDARD_WEBHOOKS, vector["secret"])
    headers = _headers(
        sign(
            spec,
            delivery_id=vector["id"],
            timestamp=vector["timestamp"],
            body=vector["body"].encode(),
        )
    )
    assert headers == {
        "webhook-id": vector["id"],
        "webhook-timestamp": str(vector["timestamp"]),
        "webhook-signature": vector["signature"],
    }


@pytest.mark.parametrize("vector", _vectors("standard-webhooks", "invalid_signature"))
def test_standard_webhooks_invalid_vector_differs(vector: dict[str, Any]) -> None:
    """The published must-not-verify signature is not what is produced."""
    spec = _spec(SigningScheme.STANDARD_WEBHOOKS, vector["secret"])
    headers = _headers(
        sign(
            spec,
            delivery_id=vector["id"],
            timestamp=vector["timestamp"],
            body=vector["body"].encode(),
        )
    )
    assert headers["webhook-signature"] != vector["invalid_signature"]


@pytest.mark.parametrize("vector", _vectors("github", "header"))
def test_github_vector(vector: dict[str, Any]) -> None:
    """A GitHub signature equals the one in GitHub's documentation."""
    spec = _spec(SigningScheme.GITHUB, vector["secret"])
    headers = sign(spec, delivery_id="dlv_x", timestamp=0, body=vector["body"].encode())
    assert headers == [("X-Hub-Signature-256", vector["header"])]


@pytest.mark.parametrize("vector", _vectors("stripe", "header"))
def test_stripe_vector(vector: dict[str, Any]) -> None:
    """A Stripe signature equals the vector computed with Stripe's algorithm."""
    spec = _spec(SigningScheme.STRIPE, vector["secret"])
    headers = sign(
        spec, delivery_id="dlv_x", timestamp=vector["timestamp"], body=vector["body"].encode()
    )
    assert headers == [("Stripe-Signature", vector["header"])]


# --- receivers' libraries ---------------------------------------------------------------------

BODIES = [
    b'{"id":"evt_1","object":"event","amount":2500}',  # compact JSON
    '{"name": "Zoë ✓"}'.encode(),  # non-ASCII UTF-8
    b"",  # empty body
]


@pytest.mark.parametrize("body", BODIES)
def test_standardwebhooks_library_verifies(body: bytes) -> None:
    """The standardwebhooks library accepts the headers for a fresh timestamp."""
    secret = _sw_secret()
    spec = _spec(SigningScheme.STANDARD_WEBHOOKS, secret)
    headers = _headers(sign(spec, delivery_id="dlv_abc", timestamp=int(time.time()), body=body))
    standardwebhooks.webhooks.Webhook(secret).verify(body, headers, json_parse=False)


def test_standardwebhooks_library_rejects_other_body() -> None:
    """The standardwebhooks library refuses the headers for bytes other than those signed."""
    secret = _sw_secret()
    spec = _spec(SigningScheme.STANDARD_WEBHOOKS, secret)
    headers = _headers(sign(spec, delivery_id="dlv_abc", timestamp=int(time.time()), body=b"{}"))
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.webhooks.Webhook(secret).verify(b"{ }", headers, json_parse=False)


@pytest.mark.parametrize("body", BODIES)
def test_stripe_library_verifies(body: bytes) -> None:
    """Stripe's verify_header accepts the header within its default tolerance."""
    secret = "whsec_" + secrets.token_hex(16)
    spec = _spec(SigningScheme.STRIPE, secret)
    [(name, value)] = sign(spec, delivery_id="dlv_abc", timestamp=int(time.time()), body=body)
    assert name == "Stripe-Signature"
    assert stripe.WebhookSignature.verify_header(body, value, secret, tolerance=300)


def test_stripe_construct_event_accepts_event() -> None:
    """Stripe's construct_event verifies and parses an event body that was signed."""
    secret = "whsec_" + secrets.token_hex(16)
    body = b'{"id":"evt_test_webhook","object":"event","type":"payment_intent.succeeded"}'
    [(_, value)] = sign(
        _spec(SigningScheme.STRIPE, secret),
        delivery_id="dlv_abc",
        timestamp=int(time.time()),
        body=body,
    )
    event = stripe.Webhook.construct_event(body, value, secret)
    assert event.id == "evt_test_webhook"


def test_stripe_library_rejects_wrong_secret() -> None:
    """Stripe's verify_header refuses a header signed with another secret."""
    [(_, value)] = sign(
        _spec(SigningScheme.STRIPE, "whsec_a"),
        delivery_id="d",
        timestamp=int(time.time()),
        body=b"{}",
    )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(b"{}", value, "whsec_b", tolerance=300)


def _github_check(secret: str, body: bytes, header: str) -> bool:
    """GitHub's documented check: HMAC-SHA256 of the body, compared in constant time."""
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@pytest.mark.parametrize("body", BODIES)
def test_github_documented_check_verifies(body: bytes) -> None:
    """GitHub's documented verification accepts the header."""
    secret = secrets.token_urlsafe(20)
    [(name, value)] = sign(
        _spec(SigningScheme.GITHUB, secret), delivery_id="d", timestamp=1, body=body
    )
    assert name == "X-Hub-Signature-256"
    assert _github_check(secret, body, value)
    assert not _github_check(secret + "x", body, value)


# --- hmac-sha256 options ----------------------------------------------------------------------

_DIGEST = hmac.new(b"s3cret", b"payload", hashlib.sha256).digest()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # defaults: X-Signature, hex, sha256= prefix
        ({}, ("X-Signature", "sha256=" + _DIGEST.hex())),
        # base64 keeps the default prefix
        ({"encoding": "base64"}, ("X-Signature", "sha256=" + base64.b64encode(_DIGEST).decode())),
        # a custom header and no prefix
        ({"header": "X-Webhook-Sig", "prefix": ""}, ("X-Webhook-Sig", _DIGEST.hex())),
        # a custom prefix with base64
        (
            {"prefix": "v1=", "encoding": "base64"},
            ("X-Signature", "v1=" + base64.b64encode(_DIGEST).decode()),
        ),
    ],
)
def test_hmac_sha256_options(options: dict[str, Any], expected: tuple[str, str]) -> None:
    """hmac-sha256 writes the body's HMAC in the configured header, encoding and prefix."""
    spec = _spec(SigningScheme.HMAC_SHA256, "s3cret", **options)
    assert sign(spec, delivery_id="d", timestamp=1, body=b"payload") == [expected]


# --- rotation ---------------------------------------------------------------------------------


def test_standard_webhooks_rotation_verifies_with_each_secret() -> None:
    """With two secrets, one header carries two signatures and each secret verifies alone."""
    old, new = _sw_secret(), _sw_secret()
    body = b'{"a":1}'
    headers = _headers(
        sign(
            _spec(SigningScheme.STANDARD_WEBHOOKS, new, old),
            delivery_id="dlv_r",
            timestamp=int(time.time()),
            body=body,
        )
    )
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        standardwebhooks.webhooks.Webhook(secret).verify(body, headers, json_parse=False)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.webhooks.Webhook(_sw_secret()).verify(body, headers, json_parse=False)


def test_stripe_rotation_verifies_with_each_secret() -> None:
    """With two secrets, Stripe-Signature has two v1 entries and each secret verifies alone."""
    old, new = "whsec_old", "whsec_new"
    body = b'{"a":1}'
    [(_, value)] = sign(
        _spec(SigningScheme.STRIPE, new, old),
        delivery_id="d",
        timestamp=int(time.time()),
        body=body,
    )
    assert value.count("v1=") == 2
    for secret in (new, old):
        assert stripe.WebhookSignature.verify_header(body, value, secret, tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body, value, "whsec_other", tolerance=300)


@pytest.mark.parametrize("scheme", [SigningScheme.GITHUB, SigningScheme.HMAC_SHA256])
def test_single_signature_schemes_sign_with_first_secret(scheme: SigningScheme) -> None:
    """Schemes with one signature per header use the first (newest) secret."""
    rotated = sign(_spec(scheme, "new", "old"), delivery_id="d", timestamp=1, body=b"x")
    assert rotated == sign(_spec(scheme, "new"), delivery_id="d", timestamp=1, body=b"x")
    assert rotated != sign(_spec(scheme, "old"), delivery_id="d", timestamp=1, body=b"x")


# --- keys and configuration errors ------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # with prefix
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # without prefix
        "whsec_" + base64.b64encode(b"0123456789").decode().rstrip("="),  # unpadded
    ],
)
def test_standard_webhooks_key_matches_library(secret: str) -> None:
    """The key is what the standardwebhooks library derives from the same secret text."""
    lib = standardwebhooks.webhooks.Webhook(secret)
    assert standard_webhooks_key(secret) == lib._whsecret


@pytest.mark.parametrize(
    ("secret", "hidden"),
    [
        ("whsec_not base64!", "not base64!"),  # characters outside the base64 alphabet
        ("whsec_", None),  # nothing after the prefix
        ("whsec_AAAA$$$$", "AAAA"),  # base64 followed by junk
    ],
)
def test_standard_webhooks_bad_secret_is_named(secret: str, hidden: str | None) -> None:
    """A standard-webhooks secret that is not base64 raises SigningError without echoing it."""
    spec = _spec(SigningScheme.STANDARD_WEBHOOKS, secret)
    with pytest.raises(SigningError, match="standard-webhooks secret") as caught:
        sign(spec, delivery_id="d", timestamp=1, body=b"")
    if hidden is not None:
        assert hidden not in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secrets": ()}, "at least one secret"),  # nothing to sign with
        ({"secrets": ("a", "")}, "empty"),  # one empty secret in a rotation list
        ({"secrets": ("a",), "encoding": "base32"}, "encoding"),  # unknown encoding
        ({"secrets": ("a",), "header": " "}, "header"),  # blank header name
    ],
)
def test_spec_rejects_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    """A SigningSpec with unusable settings raises SigningError naming the problem."""
    with pytest.raises(SigningError, match=message):
        SigningSpec(scheme=SigningScheme.HMAC_SHA256, **kwargs)


def test_signature_covers_exact_bytes() -> None:
    """Changing one byte of the body, the id or the timestamp changes the signature."""
    spec = _spec(SigningScheme.STANDARD_WEBHOOKS, _sw_secret())
    base = sign(spec, delivery_id="d1", timestamp=10, body=b"{}")[2]
    assert base != sign(spec, delivery_id="d1", timestamp=10, body=b"{ }")[2]
    assert base != sign(spec, delivery_id="d2", timestamp=10, body=b"{}")[2]
    assert base != sign(spec, delivery_id="d1", timestamp=11, body=b"{}")[2]


# --- secret resolution ------------------------------------------------------------------------

ENV = {"HOOK_SECRET": "from-env", "EMPTY": ""}
STORE: dict[str, Any] = {"key": "from-store", "nested": {"k": "deep"}, "number": 5}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("literal-secret", "literal-secret"),  # plain text is the secret itself
        ("whsec_abc", "whsec_abc"),  # prefixes are kept
        ("env:HOOK_SECRET", "from-env"),  # environment variable from the given mapping
        ("$.gS.key", "from-store"),  # global store key
        ("$.gS.nested.k", "deep"),  # nested global store key
    ],
)
def test_resolve_secret(raw: str, expected: str) -> None:
    """A secret reference resolves from the mappings it is given."""
    assert resolve_secret(raw, env=ENV, global_store=STORE) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("env:MISSING", "MISSING is not set"),  # unset variable
        ("env:EMPTY", "EMPTY is not set or empty"),  # empty variable
        ("env:", "names no environment variable"),  # no name
        ("$.gS.absent", "no such key"),  # absent store key
        ("$.gS.key.deeper", "no such key"),  # path through a string
        ("$.gS.number", "not a non-empty string"),  # non-string value
        ("$.gS.", "names no key"),  # no key
        ("$.cS.key", "only"),  # other stores are not looked up
        ("", "empty"),  # nothing at all
    ],
)
def test_resolve_secret_errors_name_the_problem(raw: str, message: str) -> None:
    """A secret that cannot be resolved raises SigningError naming where it was looked for."""
    with pytest.raises(SigningError, match=message):
        resolve_secret(raw, env=ENV, global_store=STORE)


def test_resolve_secret_error_does_not_leak_values() -> None:
    """A resolution error never contains another secret's value."""
    with pytest.raises(SigningError) as caught:
        resolve_secret("$.gS.number", env=ENV, global_store=STORE)
    assert "5" not in str(caught.value).replace("$.gS.number", "")


def test_resolve_secrets_keeps_rotation_order() -> None:
    """A list of secret references resolves to a tuple in the same order."""
    resolved = resolve_secrets(
        ["env:HOOK_SECRET", "literal", "$.gS.key"], env=ENV, global_store=STORE
    )
    assert resolved == ("from-env", "literal", "from-store")
    assert resolve_secrets("literal", env=ENV, global_store=STORE) == ("literal",)
    with pytest.raises(SigningError, match="list is empty"):
        resolve_secrets([], env=ENV, global_store=STORE)
