"""Compile parsed expressions into accessors: plain functions of the render context.

An accessor returns the value an expression stands for, or `MISSING` when it does not resolve.
All parsing and name lookups happen here, once; an accessor only reads attributes, walks
dictionaries and lists, and calls the fake-data generator.

Values are returned as they are found, not copied: request bodies and store values are treated
as immutable while a request is served.
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from mockback.templating.context import RenderContext
from mockback.templating.fake import fake_spec
from mockback.templating.parse import (
    Arg,
    Expr,
    FakeExpr,
    MathExpr,
    MathOp,
    PathExpr,
    Root,
)

__all__ = ["MISSING", "Accessor", "Missing", "always_resolves", "compile_expression", "to_number"]


class Missing(enum.Enum):
    """Marker type of an expression that did not resolve."""

    MISSING = enum.auto()  # no such field, root value absent, or not computable


MISSING: Final = Missing.MISSING
Accessor = Callable[[RenderContext], Any]
_Steps = tuple[tuple[str, int | None], ...]

# Integers a JSON encoder such as orjson writes without loss; larger results become floats.
_INT64: Final = 2**63
_MAX_NUMBER_TEXT: Final = 64
_OPERATORS: Final = {
    MathOp.SUM: operator.add,
    MathOp.SUBTRACT: operator.sub,
    MathOp.MULTIPLY: operator.mul,
}


def compile_expression(expr: Expr) -> Accessor:
    """An accessor for one parsed expression."""
    if isinstance(expr, PathExpr):
        return _path(expr.root, tuple((s.key, s.index) for s in expr.segments))
    if isinstance(expr, FakeExpr):
        return _fake(expr)
    return _math(expr)


def always_resolves(expr: Expr) -> bool:
    """Whether the expression's accessor never returns MISSING: a known fake name whose
    arguments are all literal numbers (its value is made whatever the context holds)."""
    return (
        isinstance(expr, FakeExpr)
        and fake_spec(expr.name) is not None
        and all(isinstance(a, int | float) for a in expr.args)
    )


def to_number(value: Any) -> int | float | None:
    """`value` as a number: numbers as they are, numeric strings parsed, else None."""
    kind = type(value)
    if kind is int or kind is float:
        return value  # type: ignore[no-any-return]
    if kind is str and 0 < len(value) <= _MAX_NUMBER_TEXT:
        if value.strip() != value or "_" in value:
            return None
        try:
            return int(value)
        except ValueError:
            pass
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _walk(value: Any, steps: _Steps) -> Any:
    for key, index in steps:
        kind = type(value)
        if kind is dict:
            value = value.get(key, MISSING)
        elif kind is list or kind is tuple:
            if index is None or not -len(value) <= index < len(value):
                return MISSING
            value = value[index]
        elif isinstance(value, Mapping):
            value = value.get(key, MISSING)
        elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
            if index is None or not -len(value) <= index < len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


def _follow(root: Callable[[RenderContext], Any], steps: _Steps) -> Accessor:
    if len(steps) == 1:
        key = steps[0][0]

        def one_step(ctx: RenderContext) -> Any:
            value = root(ctx)
            if type(value) is dict:
                return value.get(key, MISSING)
            return _walk(value, steps)

        return one_step
    return lambda ctx: _walk(root(ctx), steps)


def _present(root: Callable[[RenderContext], Any]) -> Accessor:
    # A root that is absent in this context (no body, not a callback) does not resolve.
    def whole(ctx: RenderContext) -> Any:
        value = root(ctx)
        return MISSING if value is None else value

    return whole


def _as_dict(root: Callable[[RenderContext], Mapping[str, Any]]) -> Accessor:
    return lambda ctx: dict(root(ctx))


_VALUE_ROOTS: Final[Mapping[Root, Callable[[RenderContext], Any]]] = {
    Root.REQ: operator.attrgetter("body"),
    Root.PATH: operator.attrgetter("path_params"),
    Root.GLOBAL: operator.attrgetter("global_store"),
    Root.CHAIN: operator.attrgetter("chain_store"),
    Root.MOCK: operator.attrgetter("mock_store"),
    Root.RESPONSE: operator.attrgetter("response"),
    Root.STATUS: operator.attrgetter("status_code"),
    Root.NAMESPACE: operator.attrgetter("namespace"),
    Root.CALLBACKS: operator.attrgetter("callbacks"),
    Root.EVENT: operator.attrgetter("event"),
}
_MAPPING_ROOTS: Final = frozenset({Root.PATH, Root.GLOBAL, Root.CHAIN, Root.MOCK, Root.CALLBACKS})


def _path(root: Root, steps: _Steps) -> Accessor:
    if root is Root.HEADER:
        return _header(steps)
    if root is Root.QUERY:
        return _query(steps)
    getter = _VALUE_ROOTS[root]
    if steps:
        return _follow(getter, steps)
    if root in _MAPPING_ROOTS:
        return _as_dict(getter)
    return _present(getter)


def _header(steps: _Steps) -> Accessor:
    if not steps:
        return lambda ctx: {name: list(values) for name, values in ctx.headers.items()}
    name, rest = steps[0][0].lower(), steps[1:]
    if not rest:

        def values(ctx: RenderContext) -> Any:
            found = ctx.headers.get(name)
            return MISSING if found is None else list(found)

        return values

    def header(ctx: RenderContext) -> Any:
        found = ctx.headers.get(name)
        return MISSING if found is None else _walk(found, rest)

    return header


def _query(steps: _Steps) -> Accessor:
    if not steps:
        return lambda ctx: {name: values[0] for name, values in ctx.query.items() if values}
    name, rest = steps[0][0], steps[1:]
    if rest and rest[0][1] is not None:
        # `$.queryParams.n[1]` picks among the parameter's values, like a header's.
        def indexed(ctx: RenderContext) -> Any:
            found = ctx.query.get(name)
            return MISSING if found is None else _walk(found, rest)

        return indexed

    def first(ctx: RenderContext) -> Any:
        found = ctx.query.get(name)
        if not found:
            return MISSING
        return _walk(found[0], rest) if rest else found[0]

    return first


def _constant(value: Any) -> Accessor:
    return lambda ctx: value


def _arg(arg: Arg) -> Accessor:
    if isinstance(arg, int | float):
        return _constant(arg)
    return compile_expression(arg)


def _fake(expr: FakeExpr) -> Accessor:
    spec = fake_spec(expr.name)
    if spec is None:  # the parser only builds known names; this keeps the function total
        return _constant(MISSING)
    function = spec.function
    literals = tuple(a for a in expr.args if isinstance(a, int | float))
    if len(literals) == len(expr.args):
        bound = spec.bind(literals)
        if not bound:
            return lambda ctx: function(ctx.fake)
        return lambda ctx: function(ctx.fake, *bound)
    accessors = tuple(_arg(a) for a in expr.args)

    def computed(ctx: RenderContext) -> Any:
        numbers = tuple(to_number(a(ctx)) for a in accessors)
        try:
            return function(ctx.fake, *spec.bind(numbers))
        except ValueError:
            return MISSING

    return computed


def _fit(number: int | float) -> Any:
    if type(number) is int:
        if -_INT64 <= number < _INT64:
            return number
        try:
            number = float(number)
        except OverflowError:
            return MISSING
    return number if math.isfinite(number) else MISSING


def _math(expr: MathExpr) -> Accessor:
    accessors = tuple(_arg(a) for a in expr.args)
    if expr.op is MathOp.INCREMENT:
        (counter,) = accessors

        def increment(ctx: RenderContext) -> Any:
            value = counter(ctx)
            if value is MISSING or value is None:
                return 1
            number = to_number(value)
            return MISSING if number is None else _fit(number + 1)

        return increment
    combine = _OPERATORS[expr.op]
    left, right = accessors

    def binary(ctx: RenderContext) -> Any:
        a, b = to_number(left(ctx)), to_number(right(ctx))
        if a is None or b is None:
            return MISSING
        return _fit(combine(a, b))

    return binary
