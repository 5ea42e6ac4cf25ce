"""The /metrics exposition: counters and the attempt histogram as Prometheus reads them."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from mockback.domain.deliveries import AttemptOutcome, CallbackType, DeliveryStatus
from mockback.metrics import ATTEMPT_BUCKETS, Metrics

HTTP, KAFKA = CallbackType.HTTP, CallbackType.KAFKA


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, keyed by name and sorted labels, parsed as a Prometheus scraper would."""
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counters_count_requests_and_ended_deliveries_by_type_and_status() -> None:
    m = Metrics()
    for _ in range(3):
        m.served()
    m.unmatched()
    m.delivery_ended(HTTP, DeliveryStatus.SUCCEEDED)
    m.delivery_ended(HTTP, DeliveryStatus.SUCCEEDED)
    m.delivery_ended(KAFKA, DeliveryStatus.FAILED)
    s = _samples(m)
    assert s[("mockback_requests_served_total", ())] == 3
    assert s[("mockback_requests_unmatched_total", ())] == 1
    assert s[("mockback_deliveries_total", (("outcome", "succeeded"), ("type", "http")))] == 2
    assert s[("mockback_deliveries_total", (("outcome", "failed"), ("type", "kafka")))] == 1
    assert ("mockback_deliveries_created", (("outcome", "failed"), ("type", "kafka"))) in s


def test_attempt_histogram_buckets_are_cumulative_and_a_bound_counts_in_its_bucket() -> None:
    m = Metrics()
    for seconds in (0.0005, 0.005, 0.0051, 2.0, 31.0):  # 0.005 lies on a bound
        m.attempt(HTTP, AttemptOutcome.SUCCESS, seconds)
    m.attempt(HTTP, AttemptOutcome.TIMEOUT, 10.0)
    s = _samples(m)
    ok = (("outcome", "success"), ("type", "http"))

    def bucket(le: str, labels: tuple[tuple[str, str], ...] = ok) -> float:
        return s[("mockback_delivery_attempt_seconds_bucket", (("le", le), *labels))]

    assert bucket("0.001") == 1
    assert bucket("0.0025") == 1
    assert bucket("0.005") == 2  # le: less than or equal
    assert bucket("0.01") == 3
    assert bucket("2.5") == 4
    assert bucket("30.0") == 4
    assert bucket("+Inf") == 5
    assert s[("mockback_delivery_attempt_seconds_count", ok)] == 5
    assert abs(s[("mockback_delivery_attempt_seconds_sum", ok)] - 33.0106) < 1e-9
    timeout = (("outcome", "timeout"), ("type", "http"))
    assert bucket("5.0", timeout) == 0
    assert bucket("10.0", timeout) == 1
    # Every bound is exposed, in order, for every series.
    les = [
        labels[0][1]
        for name, labels in s
        if name == "mockback_delivery_attempt_seconds_bucket" and labels[1:] == ok
    ]
    assert les == [repr(float(b)) for b in ATTEMPT_BUCKETS] + ["+Inf"]


def test_gauges_are_exposed_beside_the_counters() -> None:
    m = Metrics()
    m.pool_size.set(10)
    m.gauge_function(m.pool_in_use, lambda: 3.0)
    m.backlog.set(7)
    s = _samples(m)
    assert s[("mockback_delivery_pool_size", ())] == 10
    assert s[("mockback_delivery_pool_in_use", ())] == 3
    assert s[("mockback_delivery_backlog", ())] == 7
