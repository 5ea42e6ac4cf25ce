"""Measure template rendering and fake-data generation: `python bench/templating_bench.py`.

Prints microseconds per call (best of five runs) for a few representative templates, for
compiling them, for building a render context, and for every fake name.

Figures on a 2-core development machine (CPython 3.11, best of two noisy runs; compare, don't
quote):

    render  payment payload {"id": UUID, "amount": $.req.amount, "status": ...}   1.4 µs
    render  whole value "$.req.amount"                                            0.2 µs
    render  text "pi_$.fake.UUID"                                                 1.1 µs
    render  "Order $.req.orderId processed at $.fake.Date"                        0.7 µs
    render  "$.increment($.gS.n)"                                                 0.4 µs
    render  static object (returned as is)                                        0.1 µs
    render  Stripe-like event body (2 UUIDs, 2 request fields, time, nested)      3.3 µs
    compile payment payload / Stripe-like event (once per mock save)              14 / 35 µs
    build   RenderContext (5 fields given)                                        1.9 µs
    fake, direct call as a compiled template makes it (generate adds 0.1-0.4 µs):
            UUID 0.7, UnixTime 0.16, Date 0.24, DateISO 0.28, DateTimeISO 0.6,
            IPv4 0.4, IPv6 1.4, HexColor 0.3, Bool 0.09, Price 0.34, Amount 0.33,
            Float64 0.09, PositiveInt 0.33, IntBetween 0.37, FloatRange 0.57,
            ProductName 0.7, CurrencyCode 0.3, CountryCode 0.5, UserAgent 0.4,
            City/State/Country/Company 0.6, LastName 0.7, Word 1.2, Sentence 1.2,
            Paragraph 1.4, Zip 1.6, FirstName 2.0, Name 2.6, StreetAddress 2.7,
            Phone 2.8, URL 3.1, Email 3.3, Username 3.2, CreditCardNumber 8.3
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mockback.templating import FakeData, RenderContext, compile_template
from mockback.templating.fake import fake_spec

TEMPLATES: dict[str, Any] = {
    "payment payload": {"id": "$.fake.UUID", "amount": "$.req.amount", "status": "succeeded"},
    "whole value": "$.req.amount",
    "text with UUID": "pi_$.fake.UUID",
    "sentence": "Order $.req.orderId processed at $.fake.Date",
    "header list item": "$.reqHeader.X-Mode[0]",
    "counter": "$.increment($.gS.n)",
    "static object": {"id": "pay_1", "status": "succeeded", "amount": 2500},
    "stripe event": {
        "id": "evt_$.fake.UUID",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": "pi_$.fake.UUID",
                "amount": "$.req.amount",
                "currency": "$.req.currency",
                "status": "succeeded",
                "created": "$.fake.UnixTime",
            }
        },
    },
}


def per_call_us(function: Callable[[], object], number: int = 20_000) -> float:
    """Best of five runs, in microseconds per call."""
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def main() -> None:
    fake = FakeData(seed=1)
    ctx = RenderContext(
        body={"amount": 2500, "orderId": "o-1", "currency": "usd"},
        headers={"x-mode": ["live"]},
        global_store={"n": 41},
        fake=fake,
    )
    print("render (µs per call)")
    for label, value in TEMPLATES.items():
        render = compile_template(value).render
        print(f"  {label:<20} {per_call_us(partial(render, ctx)):7.2f}")
    print("compile (µs per call)")
    for label in ("payment payload", "stripe event"):
        value = TEMPLATES[label]
        print(f"  {label:<20} {per_call_us(partial(compile_template, value), 2_000):7.2f}")
    body, headers = {"amount": 2500}, {"x-mode": ["live"]}

    def build() -> RenderContext:
        return RenderContext(body=body, headers=headers, query={}, path_params={}, fake=fake)

    print(f"build RenderContext     {per_call_us(build):7.2f}")
    print("fake (µs per call)      generate  direct")
    for name in sorted(FakeData.names()):
        spec = fake_spec(name)
        assert spec is not None
        function, defaults = spec.function, spec.defaults
        fake.generate(name)  # builds the mimesis provider outside the timing
        through_name = per_call_us(partial(fake.generate, name), 5_000)
        direct = per_call_us(partial(function, fake, *defaults), 5_000)
        print(f"  {name:<20} {through_name:9.2f} {direct:7.2f}")


if __name__ == "__main__":
    main()
