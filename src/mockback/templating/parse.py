"""Parse the text of a template string into literal text and `$.` expressions.

Grammar (informal)::

    expression := "$." ( helper | "fake" fake | root path )
    helper     := ("increment" | "sum" | "subtract" | "multiply") "(" args ")"
    fake       := "." FakeName [ "(" args ")" ]          FakeName: ASCII letters and digits
    root       := req | reqHeader | queryParams | queryParam | pathParams | pathParam | gS | cS
                | mS | response | resp | statusCode | namespace | callbacks | event
    path       := ( "." name | "[" integer "]" | "['" key "']" | '["' key '"]' )*
    name       := one or more letters, digits, "_" or "-"
    args       := [ arg ( "," arg )* ]      arg: an expression or a number, spaces allowed

Decisions where the behaviour contract is silent:

* Parsing never raises and never backtracks without bound: every scan is a bounded regular
  match, a bounded `str.find` or a step of a nesting at most `MAX_DEPTH` deep.
* A "$." not followed by a letter (`"costs $.50"`) is plain text. A "$." followed by a word
  that is no root is an unknown root: it stays literal and is reported as a warning.
* A path step needs a name after its dot, so a dot that ends a sentence (`"... $.req.id."`) is
  not part of the path. Names may contain "-" and "_", so write `"$.req['id']-x"` to end a
  name before a dash. A name made of digits also indexes a list (`$.req.items.0`), and an index
  also looks up the same digits as an object key.
* A quoted key runs to the next quote of the same kind (no escapes): use the other quote
  character for a key that contains one. Keys are at most `MAX_KEY` characters.
* Fake names are ASCII letters and digits only, so `"pi_$.fake.UUID_x"` is a UUID followed by
  `_x`. A fake name never takes a path (`"$.fake.Email."` ends at the name). Parentheses right
  after a fake name are its arguments only when they parse as arguments; otherwise they are
  text (`"$.fake.Word(s)"`). Names taking arguments (`IntBetween`, `IntRange`, `FloatRange`) use
  defaults when written without them.
* A malformed helper call (`"$.sum($.req.a"`) keeps `$.sum` as text, with a warning, and the
  text after it is scanned again, so the expressions inside still render.
* `$.reqHeader.<Name>` lower-cases the name when the template is compiled.
"""

from __future__ import annotations

import difflib
import enum
import re
from dataclasses import dataclass
from typing import Final

from mockback.templating.fake import FakeData, fake_spec

__all__ = [
    "MAX_DEPTH",
    "MAX_KEY",
    "MAX_SEGMENTS",
    "Arg",
    "Expr",
    "FakeExpr",
    "MathExpr",
    "MathOp",
    "ParsedText",
    "PathExpr",
    "Root",
    "Segment",
    "parse_text",
]

MAX_DEPTH: Final = 8  # helper calls nested inside one another
MAX_KEY: Final = 1024  # characters in one path name or quoted key
MAX_SEGMENTS: Final = 64  # steps in one path
MAX_ARGS: Final = 8  # arguments in one call
MAX_ATTEMPTS: Final = 10_000  # expressions tried in one string; the rest of it stays text
_MAX_HINTS: Final = 64  # misspelled words given a suggestion per string
_MAX_SHOWN: Final = 80  # characters of source quoted in a warning

_IDENT: Final = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
_NAME: Final = re.compile(rf"[\w-]{{1,{MAX_KEY}}}")
_INDEX: Final = re.compile(r"-?[0-9]{1,18}")
_NUMBER: Final = re.compile(r"-?[0-9]{1,40}(?:\.[0-9]{1,40})?(?:[eE][+-]?[0-9]{1,2})?")
_SPACE: Final = re.compile(r"[ \t\r\n]+")


class Root(enum.StrEnum):
    """What an expression reads from; the value is the canonical name."""

    REQ = "req"  # request JSON body
    HEADER = "reqHeader"  # request headers, lists of values
    QUERY = "queryParams"  # query parameters, first value
    PATH = "pathParams"  # route parameters
    GLOBAL = "gS"  # global store of the namespace
    CHAIN = "cS"  # chain store of the mock's chainId
    MOCK = "mS"  # the mock's own store
    FAKE = "fake"  # generated data
    RESPONSE = "response"  # rendered response payload (callbacks)
    STATUS = "statusCode"  # response status code (callbacks)
    NAMESPACE = "namespace"  # the mock's namespace
    CALLBACKS = "callbacks"  # results of earlier callbacks of the same match
    EVENT = "event"  # change event of a namespace or admin webhook


class MathOp(enum.StrEnum):
    """A math helper; the value is its name in templates."""

    INCREMENT = "increment"  # one argument plus one; a missing argument gives 1
    SUM = "sum"  # a + b
    SUBTRACT = "subtract"  # a - b
    MULTIPLY = "multiply"  # a * b


_ROOTS: Final = {
    **{root.value: root for root in Root},
    "queryParam": Root.QUERY,
    "pathParam": Root.PATH,
    "resp": Root.RESPONSE,
}
_MATH: Final = {op.value: op for op in MathOp}
_WORDS: Final = frozenset(_ROOTS) | frozenset(_MATH)  # what may follow "$.", for suggestions
_ARITY: Final = {MathOp.INCREMENT: 1, MathOp.SUM: 2, MathOp.SUBTRACT: 2, MathOp.MULTIPLY: 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One step of a path."""

    key: str  # object key to look up
    index: int | None  # list index when the step is a whole number, else None


@dataclass(frozen=True, slots=True, kw_only=True)
class PathExpr:
    """`$.<root><path>`: a value read from the render context."""

    source: str  # the expression exactly as written
    root: Root  # where the path starts
    segments: tuple[Segment, ...]  # steps from the root, possibly none


@dataclass(frozen=True, slots=True, kw_only=True)
class FakeExpr:
    """`$.fake.<Name>` or `$.fake.<Name>(a, b)`: a generated value."""

    source: str  # the expression exactly as written
    name: str  # a known fake name
    args: tuple[Arg, ...]  # written arguments; empty means the name's defaults


@dataclass(frozen=True, slots=True, kw_only=True)
class MathExpr:
    """`$.<helper>(args)`: arithmetic over expressions and numbers."""

    source: str  # the expression exactly as written
    op: MathOp  # which helper
    args: tuple[Arg, ...]  # as many as the helper takes


Expr = PathExpr | FakeExpr | MathExpr
Arg = Expr | int | float


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedText:
    """A template string split into literal text and expressions."""

    parts: tuple[str | Expr, ...]  # in order; literal runs are merged, never empty
    warnings: tuple[str, ...]  # problems found, each naming the expression

    @property
    def whole(self) -> Expr | None:
        """The expression when the text is exactly one expression, else None."""
        if len(self.parts) == 1 and not isinstance(self.parts[0], str):
            return self.parts[0]
        return None


def parse_text(text: str) -> ParsedText:
    """Split `text` into literal text and expressions; never raises."""
    return _Parser(text).run()


def _shown(source: str) -> str:
    return source if len(source) <= _MAX_SHOWN else source[: _MAX_SHOWN - 1] + "…"


def _suggestion(word: str, known: frozenset[str], prefix: str) -> str:
    lowered = {name.lower(): name for name in known}
    match = lowered.get(word.lower())
    if match is None:
        close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
        match = close[0] if close else None
    return f', did you mean "{prefix}{match}"?' if match else ""


def _skip_space(text: str, position: int) -> int:
    space = _SPACE.match(text, position)
    return position if space is None else space.end()


def _segment(name: str) -> Segment:
    return Segment(key=name, index=int(name) if _INDEX.fullmatch(name) else None)


def _number(text: str) -> int | float:
    if _INDEX.fullmatch(text):
        return int(text)
    return float(text)


class _Parser:
    """One pass over one string; collects warnings as it goes."""

    __slots__ = ("attempts", "hints", "text", "too_deep", "warnings")

    def __init__(self, text: str) -> None:
        self.text = text
        self.warnings: list[str] = []
        # Work left for this string: hostile input cannot make a save take long.
        self.attempts = MAX_ATTEMPTS
        # Suggestions already computed, by misspelled word.
        self.hints: dict[str, str] = {}
        # Set when a call nests past MAX_DEPTH, so the outermost failure says why.
        self.too_deep = False

    def run(self) -> ParsedText:
        text = self.text
        parts: list[str | Expr] = []
        literal_from = position = 0
        while (start := text.find("$.", position)) >= 0:
            if self.attempts <= 0:
                self.warnings.append(f"more than {MAX_ATTEMPTS} expressions; the rest is text")
                break
            self.too_deep = False
            node, end = self.expression(start, 0)
            if end == start:
                position = start + 1
            elif node is None:
                position = end  # an invalid expression stays in the pending literal text
            else:
                if start > literal_from:
                    parts.append(text[literal_from:start])
                parts.append(node)
                literal_from = position = end
        if literal_from < len(text):
            parts.append(text[literal_from:])
        return ParsedText(parts=tuple(parts), warnings=tuple(dict.fromkeys(self.warnings)))

    def expression(self, start: int, depth: int) -> tuple[Expr | None, int]:
        """Parse at `start` ("$."): (node, end), (None, end) if invalid, (None, start) if none."""
        text = self.text
        self.attempts -= 1
        ident = _IDENT.match(text, start + 2)
        if ident is None or self.attempts < 0:
            return None, start
        word, after = ident.group(), ident.end()
        op = _MATH.get(word)
        if op is not None:
            return self.call(start, op, after, depth)
        root = _ROOTS.get(word)
        if root is Root.FAKE:
            return self.fake(start, after, depth)
        segments, end = self.path(start, after)
        if root is None:
            source = text[start:end]
            hint = self.hint(word, _WORDS, "$.")
            self.warnings.append(f'unknown root "{_shown(source)}"{hint}')
            return None, end
        return PathExpr(source=text[start:end], root=root, segments=segments), end

    def hint(self, word: str, known: frozenset[str], prefix: str) -> str:
        hint = self.hints.get(word)
        if hint is None:
            # Past a few dozen misspellings nobody reads the hints; stop paying for them.
            hint = _suggestion(word, known, prefix) if len(self.hints) < _MAX_HINTS else ""
            self.hints[word] = hint
        return hint

    def path(self, start: int, position: int) -> tuple[tuple[Segment, ...], int]:
        text = self.text
        segments: list[Segment] = []
        while len(segments) < MAX_SEGMENTS:
            if text.startswith(".", position):
                name = _NAME.match(text, position + 1)
                if name is None:
                    break
                segments.append(_segment(name.group()))
                position = name.end()
            elif text.startswith("[", position):
                segment, end = self.bracket(position)
                if segment is None:
                    shown = _shown(text[start : position + 12])
                    self.warnings.append(f'unsupported path step in "{shown}"')
                    break
                segments.append(segment)
                position = end
            else:
                break
        return tuple(segments), position

    def bracket(self, position: int) -> tuple[Segment | None, int]:
        text = self.text
        inner = _skip_space(text, position + 1)
        quote = text[inner : inner + 1]
        if quote in ("'", '"'):
            close = text.find(quote, inner + 1, inner + 2 + MAX_KEY)
            if close < 0:
                return None, position
            segment = Segment(key=text[inner + 1 : close], index=None)
            after = close + 1
        else:
            index = _INDEX.match(text, inner)
            if index is None:
                return None, position
            segment = _segment(index.group())
            after = index.end()
        after = _skip_space(text, after)
        if not text.startswith("]", after):
            return None, position
        return segment, after + 1

    def args(self, open_paren: int, depth: int) -> tuple[list[Arg | None] | None, int]:
        """Arguments from "(" to ")": (args, end), an invalid argument as None; None if malformed."""
        text = self.text
        position = _skip_space(text, open_paren + 1)
        args: list[Arg | None] = []
        if text.startswith(")", position):
            return args, position + 1
        while len(args) < MAX_ARGS:
            if text.startswith("$.", position):
                node, end = self.expression(position, depth + 1)
                if end == position:
                    return None, position
                args.append(node)
            else:
                number = _NUMBER.match(text, position)
                if number is None:
                    return None, position
                args.append(_number(number.group()))
                end = number.end()
            position = _skip_space(text, end)
            if text.startswith(")", position):
                return args, position + 1
            if not text.startswith(",", position):
                return None, position
            position = _skip_space(text, position + 1)
        return None, position

    def call(self, start: int, op: MathOp, after: int, depth: int) -> tuple[Expr | None, int]:
        text = self.text
        if not text.startswith("(", after):
            self.warnings.append(f'math helper "$.{op}" needs arguments, e.g. "$.{op}(1, 2)"')
            return None, after
        if depth >= MAX_DEPTH:
            self.too_deep = True
            return None, after
        mark = len(self.warnings)
        args, end = self.args(after, depth)
        if args is None:
            # What is inside is scanned again as text, so its own warnings come back then.
            del self.warnings[mark:]
            if self.too_deep:
                self.warnings.append(f"math helpers nested deeper than {MAX_DEPTH} levels")
            else:
                self.warnings.append(f'malformed arguments of "{_shown(text[start : end + 1])}"')
            return None, after
        source = text[start:end]
        if None in args:
            return None, end
        if len(args) != _ARITY[op]:
            count = _ARITY[op]
            plural = "" if count == 1 else "s"
            self.warnings.append(f'"$.{op}" takes {count} argument{plural} in "{_shown(source)}"')
            return None, end
        return MathExpr(source=source, op=op, args=tuple(a for a in args if a is not None)), end

    def fake(self, start: int, after: int, depth: int) -> tuple[Expr | None, int]:
        text = self.text
        name_match = _IDENT.match(text, after + 1) if text.startswith(".", after) else None
        if name_match is None:
            self.warnings.append(f'missing fake name after "{text[start:after]}"')
            return None, after
        name, end = name_match.group(), name_match.end()
        spec = fake_spec(name)
        if spec is None:
            hint = self.hint(name, FakeData.names(), "")
            source = _shown(text[start:end])
            self.warnings.append(f'unknown fake name "{name}" in "{source}"{hint}')
            return None, end
        if not text.startswith("(", end):
            return FakeExpr(source=text[start:end], name=name, args=()), end
        mark = len(self.warnings)
        args, close = self.args(end, depth)
        if args is None:
            del self.warnings[mark:]  # the parenthesis is plain text after the name
            return FakeExpr(source=text[start:end], name=name, args=()), end
        source = text[start:close]
        if None in args:
            return None, close
        written = tuple(a for a in args if a is not None)
        problem = _fake_args_problem(name, written)
        if problem:
            self.warnings.append(f'fake name "{name}" {problem} in "{_shown(source)}"')
            return None, close
        return FakeExpr(source=source, name=name, args=written), close


def _fake_args_problem(name: str, args: tuple[Arg, ...]) -> str:
    spec = fake_spec(name)
    if spec is None or not args:
        return ""
    if not spec.defaults:
        return "takes no arguments"
    if len(args) != len(spec.defaults):
        return f"takes {len(spec.defaults)} arguments"
    literals = tuple(a for a in args if isinstance(a, int | float))
    if len(literals) == len(args):
        try:
            spec.bind(literals)
        except ValueError as error:
            return str(error)
    return ""
