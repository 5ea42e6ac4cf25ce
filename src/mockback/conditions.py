"""Callback conditions: `$.req.amount > 100 && $.reqHeader.X-Mode[0] == "live"`.

A condition is parsed once, when its mock is saved, by a small recursive-descent parser into
nested closures; evaluating it is a pure function of a lookup callable that maps an expression
text such as `$.req.amount` to its value (None when missing). Nothing is ever executed: there
are no calls, loops or attribute access in the language, the text is at most 4,096 characters
and nesting at most 32 deep, and `matches` takes only a literal pattern, compiled at parse time.

Grammar, loosest first (`!` applies to the whole comparison after it, as `not` does in Python):

    condition  := or END
    or         := and ("||" and)*
    and        := not ("&&" not)*
    not        := "!" not | comparison
    comparison := operand (("==" | "!=" | ">" | "<" | ">=" | "<=" | "contains" | "matches") operand)?
    operand    := "(" or ")" | literal | expression
    literal    := JSON number | "string" | 'string' | true | false | null
    expression := "$." name ("." name | "[" digits "]" | "['" key "']" | '["' key '"]')*

Semantics are in docs/reference/conditions.md; evaluation never raises.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

MAX_LENGTH: Final = 4096
MAX_DEPTH: Final = 32

Lookup = Callable[[str], Any]
_Evaluator = Callable[[Lookup], Any]
_Predicate = Callable[[Lookup], bool]
_Operator = Callable[[Any, Any], bool]

_NUMBER_TYPES: Final = frozenset({int, float})
# Longer numeric strings are not numbers here: int() refuses them past 4,300 digits anyway.
_MAX_NUMBER_TEXT: Final = 4000
_JSON_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")

# One token per match; every alternative is linear, so scanning cannot backtrack badly.
_TOKEN: Final = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<ref>\$\.[\w-]+(?:\.[\w-]+|\[[0-9]+\]|\['[^'\n]*'\]|\["[^"\n]*"\])*)
    | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    | (?P<dstring>"(?:[^"\\\x00-\x1f]|\\[^\x00-\x1f])*")
    | (?P<sstring>'(?:[^'\\\x00-\x1f]|\\[^\x00-\x1f])*')
    | (?P<symbol>==|!=|>=|<=|&&|\|\||[<>!()])
    | (?P<word>[A-Za-z_]\w*)
    """,
    re.VERBOSE,
)
_SINGLE_QUOTED: Final = re.compile(r"\\.|\"", re.DOTALL)
_COMPARISONS: Final = frozenset({"==", "!=", ">", "<", ">=", "<=", "contains", "matches"})
_CONSTANTS: Final[dict[str, Any]] = {"true": True, "false": False, "null": None}
_SUGGESTIONS: Final = {
    "and": "&&",
    "or": "||",
    "not": "!",
    "True": "true",
    "False": "false",
    "None": "null",
    "nil": "null",
    "=": "==",
    "&": "&&",
    "|": "||",
    "<>": "!=",
}


class ConditionSyntaxError(ValueError):
    """A condition that cannot be parsed; `position` is the 0-based index of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """A parsed condition, ready to evaluate many times."""

    # the source text
    text: str
    # the `$.` expression texts it reads, in order of first appearance
    expressions: tuple[str, ...]
    # the compiled closure; call evaluate(), which never raises, rather than this
    predicate: _Predicate = field(repr=False, compare=False)

    def evaluate(self, lookup: Lookup) -> bool:
        """Whether the condition holds, reading values through `lookup`; False on any error."""
        try:
            return self.predicate(lookup)
        except Exception:
            return False


@dataclass(frozen=True, slots=True, kw_only=True)
class _Token:
    """One lexical unit."""

    # "ref", "literal", "symbol", "word" or "end"
    kind: str
    # the source text of the token
    text: str
    # for literals: the decoded value
    value: Any
    # 0-based index of its first character
    position: int


def parse_condition(text: str) -> Condition:
    """Parse and compile `text`; raises ConditionSyntaxError naming the position and expectation."""
    if len(text) > MAX_LENGTH:
        raise ConditionSyntaxError(f"condition is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    parser = _Parser(_tokenize(text))
    predicate = _as_predicate(parser.parse())
    return Condition(
        text=text, expressions=tuple(dict.fromkeys(parser.expressions)), predicate=predicate
    )


# --- lexing -----------------------------------------------------------------------------------


def _tokenize(text: str) -> Iterator[_Token]:
    """Yield tokens lazily, so that the parser reports the earliest problem first."""
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _lex_error(text, position)
        kind, source = match.lastgroup or "", match.group()
        end = match.end()
        if kind == "ref":
            if end < len(text) and text[end] in ".[":
                raise ConditionSyntaxError(
                    "expected a name, [index] or ['key'] in the expression", end + 1
                )
            yield _Token(kind=kind, text=source, value=None, position=position)
        elif kind == "number":
            if end < len(text) and (text[end].isalnum() or text[end] in "._"):
                raise ConditionSyntaxError("malformed number", position)
            yield _literal(source, _number(source, position), position)
        elif kind in ("dstring", "sstring"):
            yield _literal(source, _string(source, position), position)
        elif kind == "word":
            if source not in _CONSTANTS and source not in _COMPARISONS:
                raise _unknown_word(source, position)
            if source in _CONSTANTS:
                yield _literal(source, _CONSTANTS[source], position)
            else:
                yield _Token(kind="symbol", text=source, value=None, position=position)
        elif kind == "symbol":
            yield _Token(kind=kind, text=source, value=None, position=position)
        position = end
    yield _Token(kind="end", text="", value=None, position=len(text))


def _literal(source: str, value: Any, position: int) -> _Token:
    return _Token(kind="literal", text=source, value=value, position=position)


def _number(source: str, position: int) -> int | float:
    try:
        return float(source) if any(c in source for c in ".eE") else int(source)
    except ValueError:
        raise ConditionSyntaxError("number is too long", position) from None


def _string(source: str, position: int) -> str:
    if source[0] == "'":
        # Re-quote as JSON so that one decoder handles the escapes of both quote styles.
        source = '"' + _SINGLE_QUOTED.sub(_requote, source[1:-1]) + '"'
    try:
        value: str = json.loads(source)
    except json.JSONDecodeError as error:
        raise ConditionSyntaxError(f"invalid string: {error.msg}", position + error.pos) from None
    return value


def _requote(match: re.Match[str]) -> str:
    if match.group() == '"':
        return '\\"'
    return "'" if match.group() == "\\'" else match.group()


def _lex_error(text: str, position: int) -> ConditionSyntaxError:
    char = text[position]
    if char in "\"'":
        return ConditionSyntaxError(
            "unterminated string (or a raw control character in it)", position
        )
    if text.startswith("$.", position):
        return ConditionSyntaxError("expected a name after '$.'", position + 2)
    if char == "$":
        return ConditionSyntaxError("expected '.' after '$'", position + 1)
    for wrong in ("<>", "=", "&", "|"):
        if text.startswith(wrong, position):
            return ConditionSyntaxError(
                f"unknown operator {wrong!r}; did you mean {_SUGGESTIONS[wrong]!r}?", position
            )
    return ConditionSyntaxError(f"unexpected character {char!r}", position)


def _unknown_word(word: str, position: int) -> ConditionSyntaxError:
    suggestion = _SUGGESTIONS.get(word) or _SUGGESTIONS.get(word.lower())
    if suggestion is not None:
        return ConditionSyntaxError(
            f"unknown word {word!r}; did you mean {suggestion!r}?", position
        )
    return ConditionSyntaxError(
        f'unknown word {word!r}; strings are written in quotes ("{word}") '
        "and values start with '$.'",
        position,
    )


# --- parsing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Node:
    """A parsed sub-expression."""

    # "ref", "literal", "not", "and", "or" or a comparison operator
    kind: str
    # ref: the expression text; literal: the value; others: None
    value: Any = None
    # operands, in order
    children: tuple[_Node, ...] = ()
    # a compiled pattern for "matches"
    pattern: re.Pattern[str] | None = None


class _Parser:
    """Recursive descent with one token of lookahead; depth counts parentheses and `!`."""

    __slots__ = ("current", "expressions", "tokens")

    def __init__(self, tokens: Iterator[_Token]) -> None:
        self.tokens = tokens
        self.current = next(tokens)
        self.expressions: list[str] = []

    def parse(self) -> _Node:
        node = self._or(0)
        token = self._peek()
        if token.kind != "end":
            if token.text in _COMPARISONS:
                raise ConditionSyntaxError(
                    "comparisons cannot be chained; join them with '&&' or '||'", token.position
                )
            expected = "')' or end of input" if token.text != ")" else "end of input"
            raise self._expected(f"'&&', '||', {expected}", token)
        return node

    def _peek(self) -> _Token:
        return self.current

    def _next(self) -> _Token:
        token = self.current
        if token.kind != "end":
            self.current = next(self.tokens)
        return token

    def _or(self, depth: int) -> _Node:
        children = [self._and(depth)]
        while self._peek().text == "||":
            self._next()
            children.append(self._and(depth))
        return children[0] if len(children) == 1 else _Node(kind="or", children=tuple(children))

    def _and(self, depth: int) -> _Node:
        children = [self._not(depth)]
        while self._peek().text == "&&":
            self._next()
            children.append(self._not(depth))
        return children[0] if len(children) == 1 else _Node(kind="and", children=tuple(children))

    def _not(self, depth: int) -> _Node:
        token = self._peek()
        if token.kind == "symbol" and token.text == "!":
            self._check_depth(depth, token)
            self._next()
            return _Node(kind="not", children=(self._not(depth + 1),))
        return self._comparison(depth)

    def _comparison(self, depth: int) -> _Node:
        left = self._operand(depth)
        token = self._peek()
        if token.text not in _COMPARISONS or token.kind != "symbol":
            return left
        self._next()
        right_token = self._peek()
        right = self._operand(depth)
        if token.text != "matches":
            return _Node(kind=token.text, children=(left, right))
        if right.kind != "literal" or not isinstance(right.value, str):
            raise ConditionSyntaxError(
                "the right side of 'matches' must be a string literal (a regular expression)",
                right_token.position,
            )
        try:
            pattern = re.compile(right.value)
        except re.error as error:
            raise ConditionSyntaxError(
                f"invalid regular expression: {error.msg}", right_token.position
            ) from None
        except (RecursionError, OverflowError, ValueError):
            raise ConditionSyntaxError(
                "invalid regular expression: too complex", right_token.position
            ) from None
        return _Node(kind="matches", children=(left, right), pattern=pattern)

    def _operand(self, depth: int) -> _Node:
        token = self._peek()
        if token.kind == "ref":
            self._next()
            self.expressions.append(token.text)
            return _Node(kind="ref", value=token.text)
        if token.kind == "literal":
            self._next()
            return _Node(kind="literal", value=token.value)
        if token.kind == "symbol" and token.text == "(":
            self._check_depth(depth, token)
            self._next()
            node = self._or(depth + 1)
            closing = self._peek()
            if closing.kind != "symbol" or closing.text != ")":
                raise self._expected("'&&', '||' or ')'", closing)
            self._next()
            return node
        raise self._expected("an operand ($.expression, literal or '(')", token)

    def _check_depth(self, depth: int, token: _Token) -> None:
        if depth >= MAX_DEPTH:
            raise ConditionSyntaxError(f"nesting is deeper than {MAX_DEPTH}", token.position)

    def _expected(self, what: str, token: _Token) -> ConditionSyntaxError:
        found = "end of input" if token.kind == "end" else repr(token.text)
        return ConditionSyntaxError(f"expected {what}, found {found}", token.position)


# --- compiling --------------------------------------------------------------------------------


def _as_predicate(node: _Node) -> _Predicate:
    """A closure returning the node's truth value."""
    if node.kind == "ref":
        text = node.value
        return lambda lookup: _truthy(lookup(text))
    if node.kind == "literal":
        constant = _truthy(node.value)
        return lambda lookup: constant
    if node.kind == "not":
        inner = _as_predicate(node.children[0])
        return lambda lookup: not inner(lookup)
    if node.kind in ("and", "or"):
        return _junction(node.kind, tuple(_as_predicate(child) for child in node.children))
    return _comparison(node)


def _as_value(node: _Node) -> _Evaluator:
    """A closure returning the node's value (a comparison's value is its truth)."""
    if node.kind == "ref":
        text = node.value
        return lambda lookup: lookup(text)
    if node.kind == "literal":
        constant = node.value
        return lambda lookup: constant
    return _as_predicate(node)


def _junction(kind: str, parts: tuple[_Predicate, ...]) -> _Predicate:
    if len(parts) == 2:
        first, second = parts
        if kind == "and":
            return lambda lookup: first(lookup) and second(lookup)
        return lambda lookup: first(lookup) or second(lookup)
    if kind == "and":
        return lambda lookup: all(part(lookup) for part in parts)
    return lambda lookup: any(part(lookup) for part in parts)


def _comparison(node: _Node) -> _Predicate:
    left, right = node.children
    pattern = node.pattern
    compare = _OPERATORS[node.kind] if pattern is None else _matcher(pattern)
    # The common shapes read the lookup directly: one call fewer per evaluation.
    if left.kind == "ref" and right.kind == "literal":
        text, constant = left.value, right.value
        return lambda lookup: compare(lookup(text), constant)
    if left.kind == "ref" and right.kind == "ref":
        left_text, right_text = left.value, right.value
        return lambda lookup: compare(lookup(left_text), lookup(right_text))
    left_value, right_value = _as_value(left), _as_value(right)
    return lambda lookup: compare(left_value(lookup), right_value(lookup))


# --- semantics --------------------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if value is True:
        return True
    if type(value) in _NUMBER_TYPES:
        return bool(value != 0)
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def _strict_equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 equals 1.0, containers compare element by element."""
    ta, tb = type(a), type(b)
    if ta in _NUMBER_TYPES and tb in _NUMBER_TYPES:
        return bool(a == b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    return ta is tb and ta in (str, bool, type(None)) and bool(a == b)


def _as_number(value: Any) -> Any:
    """A number for a number, or for a string spelling a JSON number; None otherwise."""
    if type(value) in _NUMBER_TYPES:
        return value
    if type(value) is not str or not 0 < len(value) <= _MAX_NUMBER_TEXT:
        return None
    # Plain integers ("25") are the usual case and skip the regular expression.
    if value.isascii() and value.isdigit() and (value[0] != "0" or len(value) == 1):
        return int(value)
    if _JSON_NUMBER.fullmatch(value):
        return float(value) if any(c in value for c in ".eE") else int(value)
    return None


def _numeric_pair(a: Any, b: Any) -> tuple[Any, Any] | None:
    # Headers, query and path parameters are strings: compared with a number, a numeric
    # string counts as that number.
    if type(a) in _NUMBER_TYPES or type(b) in _NUMBER_TYPES:
        x, y = _as_number(a), _as_number(b)
        if x is not None and y is not None:
            return x, y
    return None


def _eq(a: Any, b: Any) -> bool:
    if type(a) is type(b) and type(a) in (str, int, float, bool, type(None)):
        return bool(a == b)
    pair = _numeric_pair(a, b)
    if pair is not None:
        return bool(pair[0] == pair[1])
    return _strict_equal(a, b)


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _ordering(compare: Callable[[Any, Any], Any]) -> _Operator:
    """An ordering operator: numbers with numbers, strings with strings, else False."""

    def apply(a: Any, b: Any) -> bool:
        kind = type(a)
        if (kind in _NUMBER_TYPES and type(b) in _NUMBER_TYPES) or (kind is str and type(b) is str):
            result: bool = compare(a, b)
            return result
        pair = _numeric_pair(a, b)
        return pair is not None and bool(compare(*pair))

    return apply


_gt: Final = _ordering(operator.gt)
_lt: Final = _ordering(operator.lt)
_ge: Final = _ordering(operator.ge)
_le: Final = _ordering(operator.le)


def _contains(a: Any, b: Any) -> bool:
    if type(a) is str:
        return type(b) is str and b in a
    if isinstance(a, list | tuple):
        return any(_eq(item, b) for item in a)
    if isinstance(a, dict):
        return type(b) is str and b in a
    return False


def _matcher(pattern: re.Pattern[str]) -> _Operator:
    search = pattern.search

    def matches(a: Any, _: Any) -> bool:
        if type(a) is str:
            return search(a) is not None
        if type(a) in _NUMBER_TYPES:
            return search(str(a)) is not None
        return False

    return matches


_OPERATORS: Final[dict[str, _Operator]] = {
    "==": _eq,
    "!=": _ne,
    ">": _gt,
    "<": _lt,
    ">=": _ge,
    "<=": _le,
    "contains": _contains,
}
