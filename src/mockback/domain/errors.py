"""The exceptions of Mockback.

MockbackError
├── ValidationFailed        bad input: a 4xx naming every field and problem
├── NotFound                the named object does not exist (or is not visible)
├── Conflict                the change contradicts what is stored
├── PayloadTooLarge         a body over a configured limit
└── ConfigurationError      bad settings or startup files: the server does not start
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldProblem:
    """One thing wrong with one field of an input."""

    field: str  # dotted path, e.g. "webhooks[0].url"; "" for the whole input
    problem: str  # what is wrong, in words a user acts on

    def as_json(self) -> dict[str, str]:
        """The wire shape of SPEC §12."""
        return {"field": self.field, "problem": self.problem}


class MockbackError(Exception):
    """Base of every error Mockback raises on purpose."""

    status_code = 500

    def __init__(self, message: str, details: tuple[FieldProblem, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(MockbackError):
    """The input is not acceptable; every problem found is listed."""

    status_code = 400


class NotFound(MockbackError):
    """The named object does not exist."""

    status_code = 404


class Conflict(MockbackError):
    """The change contradicts what is stored."""

    status_code = 409


class PayloadTooLarge(MockbackError):
    """A body exceeds a configured limit."""

    status_code = 413


class ConfigurationError(MockbackError):
    """Settings or startup files are unusable; the message names the problem and where."""
