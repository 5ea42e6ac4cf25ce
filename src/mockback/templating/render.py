"""Compile a JSON value with `$.` expressions into a `Template`, and render it per request.

`compile_template` runs once, when a mock is saved: strings are parsed, expressions become
accessors, and every container is turned into a small function that copies only what changes.
Rendering then does no parsing at all.

Rendering returns a fresh container wherever something inside it is dynamic; static parts
(whole subtrees without expressions) are shared with the compiled value, so neither the value
given to `compile_template` nor what `render` returns may be mutated in place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Set
from typing import Any, Final

import orjson

from mockback.templating.accessors import MISSING, Accessor, always_resolves, compile_expression
from mockback.templating.context import RenderContext
from mockback.templating.parse import Expr, FakeExpr, MathExpr, PathExpr, Root, parse_text

__all__ = ["MAX_NESTING", "MAX_WARNINGS", "Template", "compile_template", "to_text"]

MAX_NESTING: Final = 128  # container levels that are templated; deeper values stay as written
MAX_WARNINGS: Final = 50  # warnings kept per template; the rest are counted

_Renderer = Callable[[RenderContext], Any]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Set):
        return list(value)
    return str(value)


def to_text(value: Any) -> str:
    """The text form of a value: strings as they are, everything else as compact JSON."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int and -(2**63) <= value < 2**63:
        return str(value)
    try:
        return orjson.dumps(value, default=_jsonable, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        # Beyond what orjson writes (such as integers past 64 bits); json writes them all.
        return json.dumps(value, default=_jsonable, separators=(",", ":"), ensure_ascii=False)


class Template:
    """A compiled JSON value; `render` gives the value with every expression resolved."""

    __slots__ = ("_references", "_render", "is_static", "warnings")

    def __init__(
        self,
        *,
        render: _Renderer,
        is_static: bool,
        warnings: tuple[str, ...],
        references: frozenset[str],
    ) -> None:
        self._render = render
        # True when nothing is templated: render returns the compiled value itself.
        self.is_static = is_static
        # Problems found when compiling, such as unknown roots or fake names.
        self.warnings = warnings
        self._references = references

    def render(self, ctx: RenderContext) -> Any:
        """The value with every expression resolved against `ctx`."""
        return self._render(ctx)

    def render_text(self, ctx: RenderContext) -> str:
        """The rendered value in text form, for URLs, header values and message keys."""
        return to_text(self._render(ctx))

    def references(self) -> frozenset[str]:
        """Canonical roots the expressions read (see `Root`), such as {"req", "fake"}."""
        return self._references


def compile_template(value: Any) -> Template:
    """Compile a JSON value (dict, list, str, number, bool or None) into a `Template`."""
    compiler = _Compiler()
    renderer = compiler.value(value, 0)
    warnings = tuple(dict.fromkeys(compiler.warnings))
    if len(warnings) > MAX_WARNINGS:
        more = len(warnings) - MAX_WARNINGS
        warnings = (*warnings[:MAX_WARNINGS], f"and {more} more warnings")
    if renderer is None:
        return Template(
            render=lambda ctx: value, is_static=True, warnings=warnings, references=frozenset()
        )
    return Template(
        render=renderer,
        is_static=False,
        warnings=warnings,
        references=frozenset(compiler.references),
    )


def _roots(expr: Expr, into: set[str]) -> None:
    if isinstance(expr, PathExpr):
        into.add(expr.root.value)
        return
    if isinstance(expr, FakeExpr):
        into.add(Root.FAKE.value)
    elif not isinstance(expr, MathExpr):
        return
    for arg in expr.args:
        if not isinstance(arg, int | float):
            _roots(arg, into)


class _Compiler:
    """Walks one value; a None renderer means the value is static and is used as it is."""

    __slots__ = ("references", "warnings")

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.references: set[str] = set()

    def value(self, value: Any, depth: int) -> _Renderer | None:
        kind = type(value)
        if kind is str:
            return self.string(value)
        if kind is not dict and kind is not list:
            return None
        if depth >= MAX_NESTING:
            self.warnings.append(
                f"values nested deeper than {MAX_NESTING} levels are not templated"
            )
            return None
        if kind is dict:
            return self.mapping(value, depth)
        return self.sequence(value, depth)

    def mapping(self, value: dict[Any, Any], depth: int) -> _Renderer | None:
        dynamic = [
            (key, renderer)
            for key, item in value.items()
            if (renderer := self.value(item, depth + 1)) is not None
        ]
        if not dynamic:
            return None
        if len(dynamic) == 1:
            ((key, only),) = dynamic

            def one_key(ctx: RenderContext) -> Any:
                out = value.copy()
                out[key] = only(ctx)
                return out

            return one_key

        def keys(ctx: RenderContext) -> Any:
            out = value.copy()  # keeps key order; dynamic keys are overwritten in place
            for key, renderer in dynamic:
                out[key] = renderer(ctx)
            return out

        return keys

    def sequence(self, value: list[Any], depth: int) -> _Renderer | None:
        dynamic = [
            (index, renderer)
            for index, item in enumerate(value)
            if (renderer := self.value(item, depth + 1)) is not None
        ]
        if not dynamic:
            return None

        def items(ctx: RenderContext) -> Any:
            out = value.copy()
            for index, renderer in dynamic:
                out[index] = renderer(ctx)
            return out

        return items

    def string(self, text: str) -> _Renderer | None:
        if "$." not in text:
            return None
        parsed = parse_text(text)
        self.warnings.extend(parsed.warnings)
        expressions = [part for part in parsed.parts if not isinstance(part, str)]
        if not expressions:
            return None
        for expr in expressions:
            _roots(expr, self.references)
        whole = parsed.whole
        if whole is not None:
            if always_resolves(whole):
                return compile_expression(whole)  # nothing to fall back on: one call less
            return _whole(compile_expression(whole), text)
        return _text(parsed.parts)


def _whole(accessor: Accessor, source: str) -> _Renderer:
    def whole(ctx: RenderContext) -> Any:
        value = accessor(ctx)
        return source if value is MISSING else value

    return whole


def _text(parts: tuple[str | Expr, ...]) -> _Renderer:
    # Literal text before, between and after the expressions: one more than expressions.
    literals: list[str] = [""]
    pieces: list[tuple[Accessor, str]] = []
    for part in parts:
        if isinstance(part, str):
            literals[-1] += part
        else:
            pieces.append((compile_expression(part), part.source))
            literals.append("")
    if len(pieces) == 1:
        ((accessor, source),) = pieces
        before, after = literals

        def one(ctx: RenderContext) -> str:
            value = accessor(ctx)
            if type(value) is not str:
                value = source if value is MISSING else to_text(value)
            return before + value + after

        return one
    first = literals[0]
    rest = tuple(
        (accessor, source, literal)
        for (accessor, source), literal in zip(pieces, literals[1:], strict=True)
    )

    def many(ctx: RenderContext) -> str:
        out = [first]
        for accessor, source, literal in rest:
            value = accessor(ctx)
            if type(value) is not str:
                value = source if value is MISSING else to_text(value)
            out.append(value)
            out.append(literal)
        return "".join(out)

    return many
