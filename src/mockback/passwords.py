"""Password hashes (scrypt) and bearer tokens (random, kept as SHA-256): pure functions.

A password hash reads ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (salt and key base64), so the cost
can be raised later without breaking stored hashes. Tokens carry 256 random bits, so one
SHA-256 is enough to keep them: the hash is looked up, then compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

TOKEN_PREFIX = "mbk_"
_N, _R, _P = 2**14, 8, 1  # 16 MiB and about 80 ms per check on a small machine
_KEY_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The stored form of a password."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 * 1024 * 1024, dklen=_KEY_BYTES
    )
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether the password matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


# A hash of nothing anyone knows: checked against when a login does not exist, so an unknown
# login costs as much time as a wrong password.
# It is hash_password("", salt=16 zero bytes), written out to keep imports cheap.
DUMMY_HASH = (
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$qvz1XkWUdv9r5vB2UucTp/UVJ5rkQ51uGEZfRdILG7M="
)


def new_password() -> str:
    """A random password (for the first admin when none is configured)."""
    return secrets.token_urlsafe(18)


def new_token() -> str:
    """A new bearer token, shown once."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time equality of two token hashes."""
    return hmac.compare_digest(a.encode(), b.encode())
