"""Signature headers for outgoing callbacks.

`sign` is pure: it takes a resolved `SigningSpec` and the exact bytes that will be sent and
returns the headers to add. Each scheme produces what the receivers' own verification code
expects (standardwebhooks, Stripe's libraries, GitHub's documented check).

Secrets in a mock may be literal text, `env:NAME` or `$.gS.<key>`; `resolve_secret` turns one
into its value, reading from the mappings it is given (it never reads the process environment
itself). Error messages name where a secret was looked for, never the secret.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

SignatureEncoding = Literal["hex", "base64"]

_ENV_PREFIX = "env:"
_GLOBAL_STORE_PREFIX = "$.gS."
_WHSEC_PREFIX = "whsec_"


class SigningError(ValueError):
    """A signing configuration cannot produce a signature (missing or malformed secret)."""


class SigningScheme(enum.Enum):
    """How a callback's signature is computed and carried."""

    # webhook-id / webhook-timestamp / webhook-signature, base64 HMAC of "id.ts.body"
    STANDARD_WEBHOOKS = "standard-webhooks"
    # Stripe-Signature: t=<ts>,v1=<hex HMAC of "ts.body">
    STRIPE = "stripe"
    # X-Hub-Signature-256: sha256=<hex HMAC of body>
    GITHUB = "github"
    # a configurable header with the HMAC of the body, hex or base64, with a prefix
    HMAC_SHA256 = "hmac-sha256"


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningSpec:
    """A callback's signing settings with its secrets already resolved."""

    # which scheme to produce
    scheme: SigningScheme
    # the secrets, newest first; several give several signatures where the scheme allows it
    secrets: tuple[str, ...]
    # hmac-sha256 only: header name (None means X-Signature)
    header: str | None = None
    # hmac-sha256 only: how the digest is written
    encoding: SignatureEncoding = "hex"
    # hmac-sha256 only: text written before the digest
    prefix: str = "sha256="

    def __post_init__(self) -> None:
        if not self.secrets:
            raise SigningError(f"signing scheme {self.scheme.value!r} needs at least one secret")
        if any(not secret for secret in self.secrets):
            raise SigningError("a signing secret is empty")
        if self.encoding not in ("hex", "base64"):
            raise SigningError(f"signing encoding must be 'hex' or 'base64', not {self.encoding!r}")
        if self.header is not None and not self.header.strip():
            raise SigningError("signing header name is empty")


def sign(
    spec: SigningSpec, *, delivery_id: str, timestamp: int, body: bytes
) -> list[tuple[str, str]]:
    """Return the headers that sign `body` as sent for delivery `delivery_id` at `timestamp`."""
    if spec.scheme is SigningScheme.STANDARD_WEBHOOKS:
        return _standard_webhooks(spec.secrets, delivery_id, timestamp, body)
    if spec.scheme is SigningScheme.STRIPE:
        return _stripe(spec.secrets, timestamp, body)
    # GitHub and plain HMAC headers carry one signature, so rotation signs with the newest
    # secret; receivers rotating keys verify against both old and new.
    digest = _hmac(spec.secrets[0].encode(), body)
    if spec.scheme is SigningScheme.GITHUB:
        return [("X-Hub-Signature-256", "sha256=" + digest.hex())]
    encoded = digest.hex() if spec.encoding == "hex" else base64.b64encode(digest).decode("ascii")
    return [(spec.header or "X-Signature", spec.prefix + encoded)]


def standard_webhooks_key(secret: str) -> bytes:
    """Return the HMAC key of a Standard Webhooks secret (base64 after an optional `whsec_`)."""
    encoded = secret.removeprefix(_WHSEC_PREFIX)
    # Secrets are often copied without their base64 padding; the reference libraries accept that.
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise SigningError(
            "a standard-webhooks secret must be base64 text, optionally prefixed with 'whsec_'"
        ) from None
    if not key:
        raise SigningError("a standard-webhooks secret decodes to an empty key")
    return key


def resolve_secret(raw: str, *, env: Mapping[str, str], global_store: Mapping[str, Any]) -> str:
    """Return the secret `raw` names: itself, `env:NAME` from `env`, `$.gS.<key>` from the store."""
    if raw.startswith(_ENV_PREFIX):
        name = raw[len(_ENV_PREFIX) :]
        if not name:
            raise SigningError("signing secret 'env:' names no environment variable")
        value = env.get(name)
        if not value:
            raise SigningError(f"signing secret: environment variable {name} is not set or empty")
        return value
    if raw.startswith(_GLOBAL_STORE_PREFIX):
        return _from_global_store(raw, global_store)
    if raw.startswith("$."):
        raise SigningError(
            f"signing secret {raw!r}: only '$.gS.<key>' and 'env:NAME' are looked up"
        )
    if not raw:
        raise SigningError("signing secret is empty")
    return raw


def resolve_secrets(
    raw: str | Sequence[str], *, env: Mapping[str, str], global_store: Mapping[str, Any]
) -> tuple[str, ...]:
    """Resolve one secret or a rotation list of secrets, keeping their order."""
    items = (raw,) if isinstance(raw, str) else tuple(raw)
    if not items:
        raise SigningError("signing secret list is empty")
    return tuple(resolve_secret(item, env=env, global_store=global_store) for item in items)


def _from_global_store(raw: str, global_store: Mapping[str, Any]) -> str:
    path = raw[len(_GLOBAL_STORE_PREFIX) :]
    if not path:
        raise SigningError("signing secret '$.gS.' names no key")
    value: Any = global_store
    for name in path.split("."):
        if not isinstance(value, Mapping) or name not in value:
            raise SigningError(f"signing secret {raw}: no such key in the global store")
        value = value[name]
    if not isinstance(value, str) or not value:
        raise SigningError(f"signing secret {raw}: the stored value is not a non-empty string")
    return value


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _standard_webhooks(
    secrets: tuple[str, ...], delivery_id: str, timestamp: int, body: bytes
) -> list[tuple[str, str]]:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    signatures = " ".join(
        "v1," + base64.b64encode(_hmac(standard_webhooks_key(secret), signed)).decode("ascii")
        for secret in secrets
    )
    return [
        ("webhook-id", delivery_id),
        ("webhook-timestamp", str(timestamp)),
        ("webhook-signature", signatures),
    ]


def _stripe(secrets: tuple[str, ...], timestamp: int, body: bytes) -> list[tuple[str, str]]:
    # Stripe keys the HMAC with the secret text itself, `whsec_` included.
    signed = f"{timestamp}.".encode() + body
    parts = [f"t={timestamp}"]
    parts.extend("v1=" + _hmac(secret.encode(), signed).hex() for secret in secrets)
    return [("Stripe-Signature", ",".join(parts))]
