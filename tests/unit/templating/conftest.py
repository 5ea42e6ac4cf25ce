"""Shared fixtures for template tests: a seeded fake-data generator on a fixed clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mockback.templating import FakeData, RenderContext

# 2023-11-14T22:13:20.250Z, a fixed "now" so time names can be compared exactly.
FIXED_NOW = 1_700_000_000.25

MakeContext = Callable[..., RenderContext]


@pytest.fixture
def fake() -> FakeData:
    """A generator seeded and clocked for reproducible values."""
    return FakeData(seed=1234, clock=lambda: FIXED_NOW)


@pytest.fixture
def make_ctx(fake: FakeData) -> MakeContext:
    """Build a render context with the shared generator and the given fields."""

    def build(**fields: Any) -> RenderContext:
        return RenderContext(fake=fake, **fields)

    return build
