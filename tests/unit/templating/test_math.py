"""Math helpers: increment, sum, subtract and multiply."""

from __future__ import annotations

from typing import Any

import pytest

from mockback.templating import compile_template
from tests.unit.templating.conftest import MakeContext

STORE: dict[str, Any] = {
    "n": 4,
    "f": 1.5,
    "s": "7",
    "sf": "2.5",
    "word": "seven",
    "null": None,
    "flag": True,
    "obj": {"a": 1},
    "big": 2**62,
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # the store example of the contract: missing gives 1
        ("$.increment($.gS.missing)", 1),
        # a number goes up by one
        ("$.increment($.gS.n)", 5),
        ("$.increment($.gS.f)", 2.5),
        # numeric strings count as numbers
        ("$.increment($.gS.s)", 8),
        ("$.increment($.gS.sf)", 3.5),
        # null counts as missing
        ("$.increment($.gS.null)", 1),
        # a literal argument
        ("$.increment(41)", 42),
        # integers stay integers
        ("$.sum($.gS.n, 2)", 6),
        ("$.subtract($.gS.n, 10)", -6),
        ("$.multiply($.gS.n, 3)", 12),
        # a float anywhere gives a float
        ("$.sum($.gS.n, 0.5)", 4.5),
        ("$.multiply($.gS.f, 2)", 3.0),
        ("$.subtract(1e2, 1)", 99.0),
        # numeric strings
        ("$.sum($.gS.s, $.gS.sf)", 9.5),
        # nested helpers
        ("$.sum($.increment($.gS.n), $.multiply(2, 3))", 11),
        # spaces around arguments
        ("$.sum( 1 ,\t2 )", 3),
        # results past 64-bit integers become floats
        ("$.multiply($.gS.big, 4)", float(2**64)),
    ],
)
def test_math_values(make_ctx: MakeContext, template: str, expected: Any) -> None:
    """Helpers compute a number of the expected value and type."""
    result = compile_template(template).render(make_ctx(global_store=STORE))
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "template",
    [
        "$.increment($.gS.word)",  # text that is no number
        "$.increment($.gS.flag)",  # booleans are not numbers
        "$.increment($.gS.obj)",  # objects are not numbers
        "$.sum($.gS.missing, 1)",  # a missing operand
        "$.sum($.gS.null, 1)",  # a null operand
        "$.multiply($.multiply(1e99, 1e99), $.multiply(1e99, 1e99))",  # past the float range
    ],
)
def test_uncomputable_is_literal(make_ctx: MakeContext, template: str) -> None:
    """A helper that cannot compute stays literal, like any unresolved expression."""
    assert compile_template(template).render(make_ctx(global_store=STORE)) == template


def test_math_in_text(make_ctx: MakeContext) -> None:
    """A helper inside text is replaced by the number's text."""
    rendered = compile_template("count=$.increment($.gS.n);").render(make_ctx(global_store=STORE))
    assert rendered == "count=5;"


def test_counter_in_extract(make_ctx: MakeContext) -> None:
    """The contract's counter example counts up from 1 across renders."""
    template = compile_template({"n": "$.increment($.gS.n)"})
    store: dict[str, Any] = {}
    for expected in (1, 2, 3):
        store = {**store, **template.render(make_ctx(global_store=store))}
        assert store["n"] == expected
