"""Mockback: a mock API server whose mocks call back."""

from __future__ import annotations

__version__ = "0.1.0"
