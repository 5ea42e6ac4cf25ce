"""Prometheus metrics, one registry per server (no module-level state)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The instruments Mockback updates; label children are cached (no mock ids as labels)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests_served = Counter(
            "mockback_requests_served_total", "Requests answered by a mock.", registry=self.registry
        )
        self.requests_unmatched = Counter(
            "mockback_requests_unmatched_total", "Requests no mock matched.", registry=self.registry
        )
        self._deliveries = Counter(
            "mockback_deliveries_total",
            "Deliveries ended, by callback type and final status.",
            ["type", "outcome"],
            registry=self.registry,
        )
        self._attempts = Histogram(
            "mockback_delivery_attempt_seconds",
            "Duration of delivery attempts.",
            ["type", "outcome"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.backlog = Gauge(
            "mockback_delivery_backlog",
            "Deliveries waiting to be attempted (due, scheduled or waiting for others), counted in the store when scraped.",
            registry=self.registry,
        )
        self.pool_in_use = Gauge(
            "mockback_delivery_pool_in_use",
            "Delivery attempts running now.",
            registry=self.registry,
        )
        self.pool_size = Gauge(
            "mockback_delivery_pool_size", "WEBHOOK_POOL_SIZE.", registry=self.registry
        )
        self._delivery_children: dict[tuple[str, str], Counter] = {}
        self._attempt_children: dict[tuple[str, str], Histogram] = {}

    def delivery_ended(self, kind: str, status: str) -> None:
        """Count a delivery that reached a final status."""
        key = (kind, status)
        child = self._delivery_children.get(key)
        if child is None:
            child = self._delivery_children[key] = self._deliveries.labels(kind, status)
        child.inc()

    def attempt(self, kind: str, outcome: str, seconds: float) -> None:
        """Observe one attempt."""
        key = (kind, outcome)
        child = self._attempt_children.get(key)
        if child is None:
            child = self._attempt_children[key] = self._attempts.labels(kind, outcome)
        child.observe(seconds)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)

    def gauge_function(self, gauge: Gauge, fn: Callable[[], float]) -> None:
        """Make a gauge read its value when scraped."""
        gauge.set_function(fn)
