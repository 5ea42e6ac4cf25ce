"""Prometheus metrics, one registry per server (no module-level state).

The counters a request or a delivery updates are plain numbers read by a collector when
``/metrics`` is scraped: prometheus_client's own Counter and Histogram take a lock and make
several Python calls per update (a histogram walks its buckets one by one), which a busy server
pays per request and per attempt. The exposition is still prometheus_client's.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from mockback.domain.deliveries import AttemptOutcome, CallbackType, DeliveryStatus

CONTENT_TYPE = CONTENT_TYPE_LATEST

ATTEMPT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LABELS = ("type", "outcome")


class _Series:
    """One histogram series: a count per bucket (not cumulative; the last is +Inf) and a sum."""

    __slots__ = ("counts", "created", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(ATTEMPT_BUCKETS) + 1)
        self.total = 0.0
        self.created = time.time()


class Metrics(Collector):
    """The instruments Mockback updates (no mock ids as labels)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._created = time.time()
        self._served = 0
        self._unmatched = 0
        # Keyed by the enum members, made text only when scraped.
        self._ended: dict[tuple[CallbackType, DeliveryStatus], list[float]] = {}  # count, since
        self._attempts: dict[tuple[CallbackType, AttemptOutcome], _Series] = {}
        self.registry.register(self)
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

    def served(self) -> None:
        """Count a request a mock answered."""
        self._served += 1

    def unmatched(self) -> None:
        """Count a request no mock matched."""
        self._unmatched += 1

    def delivery_ended(self, kind: CallbackType, status: DeliveryStatus) -> None:
        """Count a delivery that reached a final status."""
        key = (kind, status)
        entry = self._ended.get(key)
        if entry is None:
            self._ended[key] = [1, time.time()]
        else:
            entry[0] += 1

    def attempt(self, kind: CallbackType, outcome: AttemptOutcome, seconds: float) -> None:
        """Observe one attempt."""
        key = (kind, outcome)
        series = self._attempts.get(key)
        if series is None:
            series = self._attempts[key] = _Series()
        # A value on a bound falls in that bound's bucket (le: less than or equal).
        series.counts[bisect_left(ATTEMPT_BUCKETS, seconds)] += 1
        series.total += seconds

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)

    def gauge_function(self, gauge: Gauge, fn: Callable[[], float]) -> None:
        """Make a gauge read its value when scraped."""
        gauge.set_function(fn)

    # prometheus_client's Collector

    def collect(self) -> Iterator[Metric]:
        """The counters and the histogram as they are now."""
        yield CounterMetricFamily(
            "mockback_requests_served",
            "Requests answered by a mock.",
            value=self._served,
            created=self._created,
        )
        yield CounterMetricFamily(
            "mockback_requests_unmatched",
            "Requests no mock matched.",
            value=self._unmatched,
            created=self._created,
        )
        ended = CounterMetricFamily(
            "mockback_deliveries",
            "Deliveries ended, by callback type and final status.",
            labels=_LABELS,
        )
        for (kind, status), (count, created) in list(self._ended.items()):
            ended.add_metric([kind.value, status.value], count, created=created)
        yield ended
        attempts = HistogramMetricFamily(
            "mockback_delivery_attempt_seconds", "Duration of delivery attempts.", labels=_LABELS
        )
        created_samples = []
        for (kind, outcome), series in list(self._attempts.items()):
            cumulative = 0
            buckets = []
            for bound, count in zip((*ATTEMPT_BUCKETS, float("inf")), series.counts, strict=True):
                cumulative += count
                buckets.append((_bound_text(bound), cumulative))
            labels = [kind.value, outcome.value]
            attempts.add_metric(labels, buckets, series.total)
            created_samples.append(
                Sample(
                    "mockback_delivery_attempt_seconds_created",
                    dict(zip(_LABELS, labels, strict=True)),
                    series.created,
                )
            )
        attempts.samples.extend(created_samples)
        yield attempts


def _bound_text(bound: float) -> str:
    """A bucket's ``le`` label as prometheus_client writes it (``0.005``, ``1.0``, ``+Inf``)."""
    return "+Inf" if bound == float("inf") else repr(float(bound))
