"""Cost of one match in the mock index as the number of mocks grows (no server, no sockets).

Usage::

    python bench/matching_bench.py [--sizes 10,1000,10000] [--repeat 5]

Builds a ``MockIndex`` of realistic mocks (literal and parameter segments, several namespaces,
every method, some with body, header and query conditions), then times five requests at each
size: a literal hit, a parameter hit, a parameter hit on a path never seen before (so that no
cache of earlier lookups answers it), a hit decided by conditions, and a miss (the 404 path,
which also looks for near misses). Each timed call builds a fresh request, so the body and
headers are parsed as they would be for a real request. Figures are the best of ``--repeat``
rounds, in microseconds per match.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from mockback.domain.requests import RequestSnapshot
from mockback.matching import MatchResult, MockIndex, make_candidate
from mockback.schema.mocks import parse_mock

NOW = datetime(2026, 1, 1, tzinfo=UTC)
NAMESPACES = ("sandbox", "payments", "shop", "crm", "billing")
SERVICES = (
    "orders",
    "customers",
    "invoices",
    "refunds",
    "products",
    "carts",
    "shipments",
    "subscriptions",
    "accounts",
    "users",
    "disputes",
    "coupons",
    "plans",
    "sessions",
)
# (method, route tail after /api/vN/{service}, conditions); ":id" and "{id}" styles both occur.
SHAPES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("GET", "", {}),
    ("POST", "", {"conditions": [{"path": "$.amount", "assertAction": "notEmpty"}]}),
    ("GET", "/:id", {}),
    ("PUT", "/{id}", {"header": [{"path": "X-Api-Key", "assertAction": "notEmpty"}]}),
    ("DELETE", "/:id", {}),
    (
        "GET",
        "/:id/items",
        {"queryParams": [{"path": "page", "assertAction": "matches", "value": "^[0-9]+$"}]},
    ),
    ("POST", "/{id}/items/:itemId/notes", {}),
    ("GET", "/search", {"queryParams": [{"path": "q", "assertAction": "any"}]}),
    (
        "PATCH",
        "/:id/status",
        {"conditions": [{"path": "$.status", "assertAction": "equals", "value": "active"}]},
    ),
    ("GET", "/:id/history/{page}", {}),
)


def _doc(i: int) -> dict[str, Any]:
    """The i-th generated mock: spread over namespaces, services, API versions and shapes."""
    method, tail, http = SHAPES[i % len(SHAPES)]
    service = SERVICES[(i // len(SHAPES)) % len(SERVICES)]
    # A new tenant segment every full turn keeps routes distinct as the count grows.
    tenant = i // (len(SHAPES) * len(SERVICES))
    version = 1 + tenant % 3
    route = f"/api/v{version}/t{tenant}/{service}{tail}"
    return {
        "id": f"gen-{i}",
        "namespace": NAMESPACES[i % len(NAMESPACES)],
        "http": {"route": route, "httpMethod": method, **http},
        "response": {"statusCode": 200, "payload": {"service": service, "id": "$.req.id"}},
    }


# The probes: these mocks are in every index, and the requests below must find them.
PROBES: tuple[dict[str, Any], ...] = (
    {"id": "probe-literal", "http": {"route": "/api/v1/orders/summary", "httpMethod": "GET"}},
    {
        "id": "probe-param",
        "http": {"route": "/api/v1/customers/:customerId/orders/{orderId}", "httpMethod": "GET"},
    },
    {  # a higher-priority sibling whose condition fails, so ranking and conditions both run
        "id": "probe-payment-large",
        "priority": 10,
        "http": {
            "route": "/api/v1/payments",
            "httpMethod": "POST",
            "conditions": [{"path": "$.amount", "assertAction": "equals", "value": 99999}],
        },
    },
    {
        "id": "probe-payment",
        "http": {
            "route": "/api/v1/payments",
            "httpMethod": "POST",
            "conditions": [{"path": "$.amount", "assertAction": "equals", "value": 2500}],
            "header": [{"path": "X-Api-Key", "assertAction": "notEmpty"}],
        },
    },
)
PAYMENT = orjson.dumps({"amount": 2500, "currency": "usd", "orderId": "o-1"})
HEADERS = (
    (b"host", b"127.0.0.1:5770"),
    (b"x-api-key", b"k-123"),
    (b"content-type", b"application/json"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    """One timed request and what its match must be."""

    name: str  # column title
    method: str  # request method
    path: str  # request path (sandbox namespace); "{n}" is a new number at every call
    body: bytes  # request body
    expect: str | None  # the winning mock's id; None for a miss
    params: dict[str, str]  # path parameters the winner must bind ("{n}" as in the path)


PROBE_REQUESTS = (
    Probe(
        name="hit",
        method="GET",
        path="/api/v1/orders/summary",
        body=b"",
        expect="probe-literal",
        params={},
    ),
    Probe(
        name="param hit",
        method="GET",
        path="/api/v1/customers/c-42/orders/o-7",
        body=b"",
        expect="probe-param",
        params={"customerId": "c-42", "orderId": "o-7"},
    ),
    Probe(  # a path never seen before: no cache of earlier lookups can answer it
        name="new param path",
        method="GET",
        path="/api/v1/customers/c-{n}/orders/o-7",
        body=b"",
        expect="probe-param",
        params={"customerId": "c-{n}", "orderId": "o-7"},
    ),
    Probe(
        name="condition hit",
        method="POST",
        path="/api/v1/payments",
        body=PAYMENT,
        expect="probe-payment",
        params={},
    ),
    Probe(
        name="miss (404)",
        method="GET",
        path="/api/v1/nothing/here",
        body=b"",
        expect=None,
        params={},
    ),
)


def build_index(size: int) -> tuple[MockIndex, float]:
    """An index of the probes plus ``size`` generated mocks, and seconds spent in ``put``."""
    docs = [*PROBES, *(_doc(i) for i in range(max(0, size - len(PROBES))))]
    candidates = [
        make_candidate(parse_mock(doc).to_mock(created_at=NOW, updated_at=NOW, seq=seq))
        for seq, doc in enumerate(docs, start=1)
    ]
    index = MockIndex()
    # Timed as timeit times the matches: collector off, so one collection of the freshly
    # parsed mocks is not charged to whichever ``put`` happens to trigger it.
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for cand in candidates:
            index.put(cand)
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    return index, elapsed


def _matcher(index: MockIndex, probe: Probe) -> Callable[[], MatchResult]:
    """A call that matches the probe's request; the first call of a "{n}" path has n = 0."""
    if "{n}" not in probe.path:

        def same() -> MatchResult:
            req = RequestSnapshot(
                method=probe.method, path=probe.path, raw_headers=HEADERS, body=probe.body
            )
            return index.match("sandbox", req, probe.path)

        return same
    numbers = itertools.count()

    def fresh() -> MatchResult:
        path = probe.path.format(n=next(numbers))
        req = RequestSnapshot(method=probe.method, path=path, raw_headers=HEADERS, body=probe.body)
        return index.match("sandbox", req, path)

    return fresh


def check(result: MatchResult, probe: Probe) -> None:
    """Refuse to time a request whose match is wrong (a "{n}" probe's first call, n = 0)."""
    got = None if result.candidate is None else result.candidate.mock.id
    params = {k: v.format(n=0) for k, v in probe.params.items()}
    if got != probe.expect or (got is not None and dict(result.path_params) != params):
        raise SystemExit(
            f"{probe.name}: matched {got} {dict(result.path_params)}, expected "
            f"{probe.expect} {params}"
        )
    if got is None and not result.near_misses:
        raise SystemExit(f"{probe.name}: a miss must list near misses")


def time_call(fn: Callable[[], object], repeat: int) -> float:
    """Best microseconds per call over ``repeat`` rounds of at least 0.2 s each."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(number, 1)
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--sizes", default="10,1000,10000", help="comma-separated mock counts")
    p.add_argument("--repeat", type=int, default=5, help="timed rounds; the best is kept")
    args = p.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error("--sizes must be integers separated by commas")
    if not args.sizes or min(args.sizes) < len(PROBES) or args.repeat < 1:
        p.error(f"each size must be at least {len(PROBES)}; --repeat at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Print a table of microseconds per match for each index size."""
    args = parse_args(argv)
    names = [p.name for p in PROBE_REQUESTS]
    print(f"{'mocks':>7} {'put (us/mock)':>14} " + " ".join(f"{n:>14}" for n in names))
    rows: list[list[float]] = []
    for size in args.sizes:
        index, put_s = build_index(size)
        row = []
        for probe in PROBE_REQUESTS:
            once = _matcher(index, probe)
            check(once(), probe)
            row.append(time_call(once, args.repeat))
        rows.append(row)
        cells = " ".join(f"{us:>11.2f} us" for us in row)
        print(f"{len(index):>7} {put_s / len(index) * 1e6:>11.2f} us {cells}", flush=True)
    if len(rows) > 1:
        growth = " ".join(
            f"{last / first:>13.1f}x" for first, last in zip(rows[0], rows[-1], strict=True)
        )
        print(f"{'growth':>7} {'':>14} {growth}  (largest / smallest index)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
