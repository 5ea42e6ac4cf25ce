"""Parsing template strings into literal text and expressions."""

from __future__ import annotations

import pytest

from mockback.templating.parse import (
    MAX_ATTEMPTS,
    MAX_DEPTH,
    FakeExpr,
    MathExpr,
    MathOp,
    PathExpr,
    Root,
    Segment,
    parse_text,
)


def _path(source: str) -> PathExpr:
    whole = parse_text(source).whole
    assert isinstance(whole, PathExpr)
    return whole


@pytest.mark.parametrize(
    ("text", "root", "segments"),
    [
        # the whole body
        ("$.req", Root.REQ, ()),
        # a dotted name
        ("$.req.amount", Root.REQ, (Segment(key="amount", index=None),)),
        # names may hold dashes, underscores and digits
        ("$.req.order-id_2", Root.REQ, (Segment(key="order-id_2", index=None),)),
        # a bracketed index
        ("$.req.items[0]", Root.REQ, (Segment(key="items", index=None), Segment(key="0", index=0))),
        # a negative index
        (
            "$.req.items[-1]",
            Root.REQ,
            (Segment(key="items", index=None), Segment(key="-1", index=-1)),
        ),
        # a digit name is an index too
        ("$.req.items.2", Root.REQ, (Segment(key="items", index=None), Segment(key="2", index=2))),
        # a single-quoted key with a space and a dot
        ("$.req['any key.x']", Root.REQ, (Segment(key="any key.x", index=None),)),
        # a double-quoted key holding a single quote
        ('$.req["it\'s"]', Root.REQ, (Segment(key="it's", index=None),)),
        # spaces inside brackets
        ("$.req[ 'a' ][ 1 ]", Root.REQ, (Segment(key="a", index=None), Segment(key="1", index=1))),
        # header names keep their case in the parse; lookups lower-case them
        (
            "$.reqHeader.X-Mode[0]",
            Root.HEADER,
            (Segment(key="X-Mode", index=None), Segment(key="0", index=0)),
        ),
        # aliases map to the canonical root
        ("$.queryParam.n", Root.QUERY, (Segment(key="n", index=None),)),
        ("$.pathParam.id", Root.PATH, (Segment(key="id", index=None),)),
        ("$.resp.status", Root.RESPONSE, (Segment(key="status", index=None),)),
        # roots without a path
        ("$.statusCode", Root.STATUS, ()),
        ("$.namespace", Root.NAMESPACE, ()),
        # stores
        ("$.gS.a.b", Root.GLOBAL, (Segment(key="a", index=None), Segment(key="b", index=None))),
        ("$.cS.k", Root.CHAIN, (Segment(key="k", index=None),)),
        ("$.mS.k", Root.MOCK, (Segment(key="k", index=None),)),
        # later roots
        (
            "$.callbacks.first.status",
            Root.CALLBACKS,
            (Segment(key="first", index=None), Segment(key="status", index=None)),
        ),
        ("$.event.operation", Root.EVENT, (Segment(key="operation", index=None),)),
    ],
)
def test_path_expressions(text: str, root: Root, segments: tuple[Segment, ...]) -> None:
    """A string that is one path expression parses into its root and steps."""
    expr = _path(text)
    assert (expr.root, expr.segments, expr.source) == (root, segments, text)


@pytest.mark.parametrize(
    ("text", "expression", "rest"),
    [
        # a sentence's final dot is not a path step
        ("Total $.req.amount.", "$.req.amount", "."),
        # punctuation ends a name
        ("t=$.req.a,v1=x", "$.req.a", ",v1=x"),
        # a space ends a name
        ("$.req.a and more", "$.req.a", " and more"),
        # an unclosed bracket is text
        ("$.req.a[", "$.req.a", "["),
        # a fake name ends at the first character that is not a letter or digit
        ("$.fake.UUID_x", "$.fake.UUID", "_x"),
        ("$.fake.UUID-suffix", "$.fake.UUID", "-suffix"),
        # a fake name takes no path
        ("$.fake.Email.", "$.fake.Email", "."),
        # parentheses that are not arguments are text
        ("$.fake.Word(s)", "$.fake.Word", "(s)"),
    ],
)
def test_where_an_expression_ends(text: str, expression: str, rest: str) -> None:
    """An expression stops where its grammar stops; the rest is literal text."""
    parts = parse_text(text).parts
    expr_part = next(p for p in parts if not isinstance(p, str))
    assert expr_part.source == expression
    assert parts[-1] == rest


@pytest.mark.parametrize(
    "text",
    [
        "plain text",  # no expression at all
        "costs $.50",  # "$." then a digit
        "$.",  # nothing after the prefix
        "$$ and $ and .",  # dollar signs without the prefix
        "$.[0]",  # a bracket instead of a root
    ],
)
def test_text_without_expressions(text: str) -> None:
    """Text with no valid expression is one literal part and gives no warning."""
    parsed = parse_text(text)
    assert parsed.parts == (text,)
    assert parsed.warnings == ()


def test_empty_text() -> None:
    """The empty string has no parts."""
    assert parse_text("").parts == ()


def test_parts_alternate_literal_and_expressions() -> None:
    """Literal runs and expressions come back in order, and concatenate to the input."""
    text = "Order $.req.orderId processed at $.fake.Date"
    parts = parse_text(text).parts
    assert [p if isinstance(p, str) else p.source for p in parts] == [
        "Order ",
        "$.req.orderId",
        " processed at ",
        "$.fake.Date",
    ]


def test_adjacent_expressions() -> None:
    """Two expressions with nothing between them are two parts."""
    parts = parse_text("$.req.a$.req.b").parts
    assert [p.source for p in parts if not isinstance(p, str)] == ["$.req.a", "$.req.b"]


def test_whole_only_for_exactly_one_expression() -> None:
    """`whole` is set only when the text is one expression and nothing else."""
    assert parse_text("$.req.a").whole is not None
    assert parse_text(" $.req.a").whole is None
    assert parse_text("$.req.a ").whole is None
    assert parse_text("$.req.a$.req.b").whole is None


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("$.fake.UUID", "UUID", ()),  # no arguments
        ("$.fake.UUID()", "UUID", ()),  # empty parentheses
        ("$.fake.IntBetween(1,10)", "IntBetween", (1, 10)),  # integers
        ("$.fake.IntRange( -5 , 5 )", "IntRange", (-5, 5)),  # spaces and negatives
        ("$.fake.FloatRange(0.5,1e2)", "FloatRange", (0.5, 100.0)),  # floats and exponents
    ],
)
def test_fake_expressions(text: str, name: str, args: tuple[float, ...]) -> None:
    """A fake expression carries its name and literal arguments."""
    expr = parse_text(text).whole
    assert isinstance(expr, FakeExpr)
    assert (expr.name, expr.args) == (name, args)


def test_fake_argument_may_be_an_expression() -> None:
    """A fake's argument may itself be an expression."""
    expr = parse_text("$.fake.IntBetween(1, $.req.max)").whole
    assert isinstance(expr, FakeExpr)
    assert isinstance(expr.args[1], PathExpr)


@pytest.mark.parametrize(
    ("text", "op", "count"),
    [
        ("$.increment($.gS.n)", MathOp.INCREMENT, 1),  # one expression
        ("$.sum($.req.a, 2)", MathOp.SUM, 2),  # an expression and a number
        ("$.subtract(10,4)", MathOp.SUBTRACT, 2),  # two numbers
        ("$.multiply($.req.a,$.req.b)", MathOp.MULTIPLY, 2),  # two expressions
        ("$.sum($.increment($.gS.n), 1)", MathOp.SUM, 2),  # nested helper
    ],
)
def test_math_expressions(text: str, op: MathOp, count: int) -> None:
    """A math helper parses with its operation and arguments."""
    expr = parse_text(text).whole
    assert isinstance(expr, MathExpr)
    assert (expr.op, len(expr.args)) == (op, count)


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        # unknown fake name, with a suggestion
        ("$.fake.UUIDD", 'unknown fake name "UUIDD" in "$.fake.UUIDD", did you mean "UUID"?'),
        # unknown fake name without a close match
        ("$.fake.Zzzzzz", 'unknown fake name "Zzzzzz" in "$.fake.Zzzzzz"'),
        # a lower-case spelling of a known name
        ("$.fake.uuid", 'unknown fake name "uuid" in "$.fake.uuid", did you mean "UUID"?'),
        # unknown root
        ("$.foo.bar", 'unknown root "$.foo.bar"'),
        # unknown root close to a real one
        ("$.rq.amount", 'unknown root "$.rq.amount", did you mean "$.req"?'),
        # a misspelled helper
        ("$.incremnt($.gS.n)", 'unknown root "$.incremnt", did you mean "$.increment"?'),
        # fake without a name
        ("$.fake", 'missing fake name after "$.fake"'),
        # helper without parentheses
        ("$.sum", 'math helper "$.sum" needs arguments, e.g. "$.sum(1, 2)"'),
        # helper with the wrong number of arguments
        ("$.sum(1)", '"$.sum" takes 2 arguments in "$.sum(1)"'),
        ("$.increment(1, 2)", '"$.increment" takes 1 argument in "$.increment(1, 2)"'),
        # malformed helper arguments
        ("$.sum($.req.a", 'malformed arguments of "$.sum($.req.a"'),
        # arguments to a name that takes none
        ("$.fake.UUID(1, 2)", 'fake name "UUID" takes no arguments in "$.fake.UUID(1, 2)"'),
        # the wrong number of arguments
        (
            "$.fake.IntBetween(1)",
            'fake name "IntBetween" takes 2 arguments in "$.fake.IntBetween(1)"',
        ),
        # a fraction where a whole number is needed
        (
            "$.fake.IntBetween(1.5, 3)",
            'fake name "IntBetween" argument 1.5 is not a whole number in "$.fake.IntBetween(1.5, 3)"',
        ),
        # an unsupported path step
        ("$.req.items[*].id", 'unsupported path step in "$.req.items[*].id"'),
    ],
)
def test_warnings(text: str, warning: str) -> None:
    """Problems in an expression are reported with the expression as written."""
    assert warning in parse_text(text).warnings


@pytest.mark.parametrize(
    "text",
    [
        "$.foo.bar",  # unknown root
        "$.fake.UUIDD",  # unknown fake name
        "$.sum(1)",  # wrong arity
        "$.increment($.nope.n)",  # an argument with an unknown root
        "$.fake.UUID(1, 2)",  # arguments to a name that takes none
    ],
)
def test_invalid_expressions_are_literal(text: str) -> None:
    """An invalid expression is kept as literal text."""
    assert parse_text(text).parts == (text,)


def test_malformed_helper_keeps_inner_expressions() -> None:
    """A malformed helper call is text, but the expressions inside it still parse."""
    parts = parse_text("$.sum($.req.a").parts
    assert parts[0] == "$.sum("
    assert isinstance(parts[1], PathExpr)


def test_warnings_are_not_repeated() -> None:
    """The same problem written twice is reported once."""
    assert parse_text("$.foo.x and $.foo.x").warnings == ('unknown root "$.foo.x"',)


def test_long_sources_are_shortened_in_warnings() -> None:
    """A warning quotes at most 80 characters of a long expression."""
    (warning,) = parse_text("$.foo." + "a" * 500).warnings
    assert len(warning) < 120
    assert warning.endswith('…"')


def test_nesting_is_bounded() -> None:
    """Helpers nested past the limit are reported and do not all parse."""
    depth = MAX_DEPTH + 2
    text = "$.increment(" * depth + "1" + ")" * depth
    parsed = parse_text(text)
    assert parsed.warnings == (f"math helpers nested deeper than {MAX_DEPTH} levels",)
    assert parsed.whole is None


def test_nesting_up_to_the_limit_parses() -> None:
    """Helpers nested exactly to the limit parse as one expression."""
    text = "$.increment(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH
    parsed = parse_text(text)
    assert parsed.whole is not None
    assert parsed.warnings == ()


def test_expression_budget_per_string() -> None:
    """Past the per-string budget, the rest of the text stays literal, with a warning."""
    text = "$.req.a " * (MAX_ATTEMPTS + 10)
    parsed = parse_text(text)
    assert sum(1 for p in parsed.parts if not isinstance(p, str)) == MAX_ATTEMPTS
    assert parsed.warnings == (f"more than {MAX_ATTEMPTS} expressions; the rest is text",)
    assert "".join(p if isinstance(p, str) else p.source for p in parsed.parts) == text
