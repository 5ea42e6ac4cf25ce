"""Rendering compiled templates: typing, text forms, containers and unresolved expressions."""

from __future__ import annotations

from typing import Any

import pytest

from mockback.templating import compile_template, to_text
from mockback.templating.accessors import always_resolves
from mockback.templating.parse import parse_text
from mockback.templating.render import MAX_NESTING, MAX_WARNINGS
from tests.unit.templating.conftest import MakeContext

BODY: dict[str, Any] = {
    "amount": 2500,
    "price": 12.5,
    "name": "Ada",
    "paid": True,
    "refunded": False,
    "note": None,
    "items": [{"sku": "a-1", "qty": 2}, {"sku": "b-2", "qty": 1}],
    "customer": {"id": "c-9", "tags": ["vip"]},
    "any key": "spaced",
    "with-dash": "dashed",
    "0": "zero-key",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # whole-value expressions keep the JSON type
        ("$.req.amount", 2500),
        ("$.req.price", 12.5),
        ("$.req.name", "Ada"),
        ("$.req.paid", True),
        ("$.req.refunded", False),
        ("$.req.items", BODY["items"]),
        ("$.req.customer", BODY["customer"]),
        # a field present with null resolves to null
        ("$.req.note", None),
        # the whole body
        ("$.req", BODY),
        # path syntax
        ("$.req.items[0].sku", "a-1"),
        ("$.req.items[-1].qty", 1),
        ("$.req.items.1.sku", "b-2"),
        ("$.req['any key']", "spaced"),
        ('$.req["any key"]', "spaced"),
        ("$.req.with-dash", "dashed"),
        ("$.req.customer.tags[0]", "vip"),
        # an index on an object looks up the digits as a key
        ("$.req[0]", "zero-key"),
    ],
)
def test_whole_value_typing(make_ctx: MakeContext, template: str, expected: Any) -> None:
    """A string that is exactly one expression becomes the value with its JSON type."""
    assert compile_template(template).render(make_ctx(body=BODY)) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # strings as they are
        ("name=$.req.name", "name=Ada"),
        # numbers as JSON
        ("n=$.req.amount;p=$.req.price", "n=2500;p=12.5"),
        # booleans and null as JSON words
        ("$.req.paid/$.req.refunded/$.req.note", "true/false/null"),
        # arrays and objects as compact JSON
        ("tags: $.req.customer.tags", 'tags: ["vip"]'),
        ("c=$.req.customer", 'c={"id":"c-9","tags":["vip"]}'),
        # a sentence's final dot stays text
        ("Thanks $.req.name.", "Thanks Ada."),
        # two expressions with nothing between them
        ("$.req.name$.req.amount", "Ada2500"),
    ],
)
def test_text_forms(make_ctx: MakeContext, template: str, expected: str) -> None:
    """An expression inside other text is replaced by its text form."""
    assert compile_template(template).render(make_ctx(body=BODY)) == expected


@pytest.mark.parametrize(
    "template",
    [
        "$.req.missing",  # missing field
        "$.req.items[7]",  # index out of range
        "$.req.name.first",  # a step into a string
        "$.req.items.sku",  # a name on a list
        "$.foo.bar",  # unknown root
        "$.fake.UUIDD",  # unknown fake name
        "$.req.customer['nope']",  # missing quoted key
    ],
)
def test_unresolved_whole_value_is_literal(make_ctx: MakeContext, template: str) -> None:
    """An expression that does not resolve is left exactly as written."""
    assert compile_template(template).render(make_ctx(body=BODY)) == template


def test_unresolved_in_text_is_literal(make_ctx: MakeContext) -> None:
    """In text, only the unresolved expression is kept literally; the others render."""
    rendered = compile_template("a=$.req.amount b=$.req.nope c=$.foo.x").render(make_ctx(body=BODY))
    assert rendered == "a=2500 b=$.req.nope c=$.foo.x"


def test_no_body_leaves_req_literal(make_ctx: MakeContext) -> None:
    """Without a request body, `$.req` and its paths do not resolve."""
    ctx = make_ctx()
    assert compile_template("$.req").render(ctx) == "$.req"
    assert compile_template("$.req.a").render(ctx) == "$.req.a"


def test_text_body(make_ctx: MakeContext) -> None:
    """A body that is not JSON is available as text through `$.req` alone."""
    ctx = make_ctx(body="raw text")
    assert compile_template("got: $.req").render(ctx) == "got: raw text"
    assert compile_template("$.req.a").render(ctx) == "$.req.a"


def test_containers_render_recursively(make_ctx: MakeContext) -> None:
    """Dicts and lists render every string inside them; keys and other values stay."""
    template = compile_template(
        {
            "$.req.name": "$.req.name",
            "list": ["$.req.amount", 1, None, {"deep": "x $.req.name"}],
            "flag": True,
        }
    )
    assert template.render(make_ctx(body=BODY)) == {
        "$.req.name": "Ada",
        "list": [2500, 1, None, {"deep": "x Ada"}],
        "flag": True,
    }


def test_key_order_is_kept(make_ctx: MakeContext) -> None:
    """A rendered object keeps the key order of the template."""
    template = compile_template({"a": 1, "b": "$.req.amount", "c": 2, "d": "$.req.name"})
    assert list(template.render(make_ctx(body=BODY))) == ["a", "b", "c", "d"]


def test_render_does_not_change_the_template(make_ctx: MakeContext) -> None:
    """Rendering returns new containers and leaves the compiled value as written."""
    value = {"a": "$.req.amount", "b": ["$.req.name"], "c": {"static": 1}}
    template = compile_template(value)
    first = template.render(make_ctx(body=BODY))
    assert value == {"a": "$.req.amount", "b": ["$.req.name"], "c": {"static": 1}}
    assert first is not value
    assert first["c"] is value["c"]  # static subtrees are shared, not copied


def test_renders_are_independent(make_ctx: MakeContext) -> None:
    """Two renders of one template with different requests do not share results."""
    template = compile_template({"amount": "$.req.amount"})
    assert template.render(make_ctx(body={"amount": 1})) == {"amount": 1}
    assert template.render(make_ctx(body={"amount": 2})) == {"amount": 2}


@pytest.mark.parametrize(
    "value",
    [
        {"id": 1, "status": "succeeded"},  # object without expressions
        ["a", 1, None],  # list without expressions
        "plain",  # plain string
        "costs $.50",  # "$." that is no expression
        "$.foo.bar",  # only an unknown root, kept literal
        42,  # number
        None,  # null
        True,  # boolean
    ],
)
def test_static_templates(make_ctx: MakeContext, value: Any) -> None:
    """A value without expressions is static and renders as the very same object."""
    template = compile_template(value)
    assert template.is_static
    assert template.references() == frozenset()
    assert template.render(make_ctx()) is value


def test_dynamic_template_is_not_static() -> None:
    """A value with an expression anywhere is not static."""
    assert not compile_template({"a": [{"b": "$.fake.UUID"}]}).is_static


def test_references_name_canonical_roots() -> None:
    """`references` lists the canonical roots used, including inside helper arguments."""
    template = compile_template(
        {
            "a": "$.req.a",
            "b": ["$.resp.x", "$.queryParam.q"],
            "c": "n=$.increment($.gS.n)",
            "d": "$.fake.IntBetween(1, $.pathParam.max)",
        }
    )
    assert template.references() == {"req", "response", "queryParams", "gS", "fake", "pathParams"}


def test_warnings_are_collected_from_the_whole_value() -> None:
    """Warnings from every string of the value are gathered, once each."""
    template = compile_template({"a": "$.fake.UUIDD", "b": ["$.foo.bar", "$.foo.bar"]})
    assert template.warnings == (
        'unknown fake name "UUIDD" in "$.fake.UUIDD", did you mean "UUID"?',
        'unknown root "$.foo.bar"',
    )


def test_warnings_are_capped() -> None:
    """A template keeps at most MAX_WARNINGS warnings and counts the rest."""
    template = compile_template({f"k{i}": f"$.unknown{i}" for i in range(MAX_WARNINGS + 10)})
    assert len(template.warnings) == MAX_WARNINGS + 1
    assert template.warnings[-1] == "and 10 more warnings"


def test_deep_values_are_not_templated(make_ctx: MakeContext) -> None:
    """Containers nested past the limit stay as written, with a warning."""
    value: Any = "$.req.name"
    for _ in range(MAX_NESTING + 5):
        value = [value]
    template = compile_template(value)
    assert template.is_static
    assert template.warnings == (
        f"values nested deeper than {MAX_NESTING} levels are not templated",
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$.req.amount", "2500"),  # a number as text
        ("$.req.name", "Ada"),  # a string as it is
        ("$.req.customer.tags", '["vip"]'),  # a list as JSON
        ({"a": "$.req.paid"}, '{"a":true}'),  # an object as JSON
    ],
)
def test_render_text(make_ctx: MakeContext, template: Any, expected: str) -> None:
    """`render_text` gives the rendered value in text form."""
    assert compile_template(template).render_text(make_ctx(body=BODY)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s", "s"),  # string unchanged
        (1, "1"),  # integer
        (-0.5, "-0.5"),  # float
        (True, "true"),  # boolean
        (None, "null"),  # null
        ({"a": [1, "x"]}, '{"a":[1,"x"]}'),  # compact object
        ({1: "a"}, '{"1":"a"}'),  # non-string keys become strings
        (2**70, str(2**70)),  # integers past 64 bits
        ((1, 2), "[1,2]"),  # tuples as arrays
        ({"s": {1}}, '{"s":[1]}'),  # sets as arrays
        ({"x": object}, '{"x":"<class \'object\'>"}'),  # anything else as its str
        ("é ✓", "é ✓"),  # non-ASCII text unchanged
    ],
)
def test_to_text(value: Any, expected: str) -> None:
    """Values have one text form: strings as they are, the rest as compact JSON."""
    assert to_text(value) == expected


@pytest.mark.parametrize(
    ("template", "resolves"),
    [
        ("$.fake.UUID", True),  # no arguments
        ("$.fake.IntBetween(5, 7)", True),  # literal arguments
        ("$.fake.IntBetween($.req.low, 7)", False),  # an argument from the request
        ("$.req.amount", False),
        ("$.increment($.gS.n)", False),
    ],
)
def test_only_fake_values_of_literal_arguments_always_resolve(
    template: str, resolves: bool
) -> None:
    """Which whole values are used as made, with no fallback to their literal text."""
    parsed = parse_text(template)
    assert parsed.whole is not None
    assert always_resolves(parsed.whole) is resolves


@pytest.mark.parametrize(
    ("template", "kind"),
    [("$.fake.UUID", str), ("$.fake.IntBetween(5, 7)", int)],
)
def test_fake_whole_values_render_fresh_values(
    make_ctx: MakeContext, template: str, kind: type
) -> None:
    rendered = compile_template(template)
    values = [rendered.render(make_ctx(body={})) for _ in range(3)]
    assert all(type(v) is kind and v != template for v in values)
    if kind is str:
        assert len(set(values)) == 3  # fresh per render


def test_a_fake_value_whose_argument_does_not_resolve_stays_literal(make_ctx: MakeContext) -> None:
    template = "$.fake.IntBetween($.req.low, 7)"
    assert compile_template(template).render(make_ctx(body={})) == template
