"""The webhook receiver for tests; it ships in the package as ``mockback.testing.receiver``."""

from __future__ import annotations

from mockback.testing.receiver import Call, Headers, Receiver, Reply, ThreadedReceiver

__all__ = ["Call", "Headers", "Receiver", "Reply", "ThreadedReceiver"]
