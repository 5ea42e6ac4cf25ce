"""Password hashes and bearer tokens."""

from __future__ import annotations

from mockback.passwords import (
    DUMMY_HASH,
    TOKEN_PREFIX,
    hash_password,
    new_token,
    same_hash,
    token_hash,
    verify_password,
)


def test_a_password_verifies_against_its_hash_only() -> None:
    """The right password verifies; a wrong one, or a corrupt hash, does not."""
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("correct horse", "scrypt$1$2$broken")
    assert not verify_password("correct horse", "bcrypt$whatever")


def test_the_same_password_hashes_differently_each_time() -> None:
    """Every hash has its own salt."""
    assert hash_password("p") != hash_password("p")


def test_the_written_out_dummy_hash_is_the_hash_it_claims() -> None:
    """DUMMY_HASH equals hash_password("") with a zero salt, and no password matches it."""
    assert hash_password("", salt=b"\0" * 16) == DUMMY_HASH
    assert not verify_password("admin", DUMMY_HASH)


def test_tokens_are_random_and_kept_as_hashes() -> None:
    """Tokens are prefixed, distinct, and stored as a SHA-256 that is compared safely."""
    first, second = new_token(), new_token()
    assert first.startswith(TOKEN_PREFIX) and first != second
    assert len(token_hash(first)) == 64 and first not in token_hash(first)
    assert same_hash(token_hash(first), token_hash(first))
    assert not same_hash(token_hash(first), token_hash(second))
