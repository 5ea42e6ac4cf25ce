"""Transports: how a rendered callback leaves the process (HTTP, Kafka, RabbitMQ, memory).

Each transport is one module implementing ``base.Transport``; the composition root picks them.
"""

from __future__ import annotations

from mockback.delivery.transports.base import Transport

__all__ = ["Transport"]
