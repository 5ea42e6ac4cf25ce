"""Test helpers that ship with Mockback: a real server process, a webhook receiver, checkpoints.

The pytest plugin (``mockback.pytest_plugin``) wires these into fixtures; they work without
pytest too::

    with MockbackServer() as server, ThreadedReceiver() as receiver, server.client() as client:
        client.mocks.create({...})
        receiver.wait_for(1, timeout=5)
"""

from __future__ import annotations

from mockback.testing.checkpoint import Checkpoint, roll_back, take
from mockback.testing.receiver import Call, Receiver, Reply, ThreadedReceiver
from mockback.testing.server import MockbackServer, ServerStartError

__all__ = [
    "Call",
    "Checkpoint",
    "MockbackServer",
    "Receiver",
    "Reply",
    "ServerStartError",
    "ThreadedReceiver",
    "roll_back",
    "take",
]
