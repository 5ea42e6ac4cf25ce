"""Which mock answers a request: a route tree per namespace, then conditions, then ranking.

Lookup walks the request's path segments through a tree of literal and parameter segments,
so its cost grows with the depth of the path, not with the number of mocks. Among the mocks
whose route and method fit, conditions are checked in rank order: higher ``priority``, then
more literal segments, then the older mock. When nothing matches, the result lists the
closest mocks and why each one failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from mockback.domain.mocks import AssertAction, ConditionSource, FieldCondition, Mock
from mockback.domain.requests import RequestSnapshot
from mockback.paths import MISSING, compile_path

_PARAM = re.compile(
    r"^(?::(?P<colon>[A-Za-z_][A-Za-z0-9_\-]*)|\{(?P<brace>[A-Za-z_][A-Za-z0-9_\-]*)\})$"
)
_EMPTY_VALUES: tuple[Any, ...] = (None, "", [], {})


def split_path(path: str) -> list[str]:
    """Segments of a path; trailing and repeated slashes do not count."""
    return [s for s in path.split("/") if s]


@dataclass(frozen=True, slots=True)
class RouteSegment:
    """One segment of a route: a literal, or a named parameter."""

    text: str  # the literal, or the parameter's name
    is_param: bool  # True for ":name" and "{name}"


def parse_route(route: str) -> tuple[RouteSegment, ...]:
    """The segments of a mock's route."""
    out = []
    for seg in split_path(route):
        m = _PARAM.match(seg)
        if m:
            out.append(RouteSegment(m.group("colon") or m.group("brace"), True))
        else:
            out.append(RouteSegment(seg, False))
    return tuple(out)


# ------------------------------------------------------------------------------------------
# conditions

Check = Callable[[RequestSnapshot, Mapping[str, str]], tuple[bool, Any]]
"""Returns (holds, the request's value) for one condition, given the bound path parameters."""

ValueSource = Callable[[RequestSnapshot, Mapping[str, str]], Any]
"""Computes a condition's expected value per request (when it holds a template)."""


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _json_equal(a: Any, b: Any) -> bool:
    # bool is an int in Python; in JSON true is not 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _compare(
    action: AssertAction,
    found: bool,
    actual: Any,
    expected: Any,
    pattern: re.Pattern[str] | None,
    textual: bool,
) -> bool:
    if action is AssertAction.ANY:
        return found
    if action is AssertAction.NOT_EMPTY:
        return found and not any(_json_equal(actual, e) for e in _EMPTY_VALUES)
    if action is AssertAction.EMPTY:
        return not found or any(_json_equal(actual, e) for e in _EMPTY_VALUES)
    if action is AssertAction.EQUALS:
        return found and _equals(actual, expected, textual)
    if action is AssertAction.NOT_EQUALS:
        return not (found and _equals(actual, expected, textual))
    if action is AssertAction.CONTAINS:
        return found and _contains(actual, expected, textual)
    if action is AssertAction.NOT_CONTAINS:
        return not (found and _contains(actual, expected, textual))
    # MATCHES
    return found and pattern is not None and pattern.search(_as_text(actual)) is not None


def _equals(actual: Any, expected: Any, textual: bool) -> bool:
    if textual:
        return bool(actual == _as_text(expected))
    return _json_equal(actual, expected)


def _contains(actual: Any, expected: Any, textual: bool) -> bool:
    if isinstance(actual, str):
        return _as_text(expected) in actual
    if textual:
        return False
    if isinstance(actual, list):
        return any(_json_equal(item, expected) for item in actual)
    if isinstance(actual, dict):
        return isinstance(expected, str) and expected in actual
    return False


def compile_condition(cond: FieldCondition, value: ValueSource | None = None) -> Check:
    """A predicate for one condition, with its path and regex prepared once.

    ``value`` computes the expected value per request when the condition's value is a
    template; otherwise the value is the literal.
    """
    pattern = re.compile(cond.value) if cond.action is AssertAction.MATCHES else None
    action, literal = cond.action, cond.value
    if cond.source is ConditionSource.BODY:
        accessor = compile_path(cond.path)

        def body_check(req: RequestSnapshot, params: Mapping[str, str]) -> tuple[bool, Any]:
            actual = MISSING if accessor is None else accessor(req.json)
            found = actual is not MISSING
            expected = literal if value is None else value(req, params)
            return _compare(action, found, actual, expected, pattern, False), (
                actual if found else None
            )

        return body_check
    name = cond.path.lower() if cond.source is ConditionSource.HEADER else cond.path
    header = cond.source is ConditionSource.HEADER

    def param_check(req: RequestSnapshot, params: Mapping[str, str]) -> tuple[bool, Any]:
        values = (req.headers if header else req.query).get(name)
        found = bool(values)
        actual = values[0] if values else None
        expected = literal if value is None else value(req, params)
        return _compare(action, found, actual, expected, pattern, True), actual

    return param_check


def describe(cond: FieldCondition) -> str:
    """A condition in words, for near-miss reasons."""
    where = {
        ConditionSource.BODY: "body",
        ConditionSource.QUERY: "query parameter",
        ConditionSource.HEADER: "header",
    }[cond.source]
    if cond.action in (AssertAction.ANY, AssertAction.NOT_EMPTY, AssertAction.EMPTY):
        return f"{where} {cond.path} {cond.action.value}"
    return f"{where} {cond.path} {cond.action.value} {_as_text(cond.value)}"


# ------------------------------------------------------------------------------------------
# index


@dataclass(slots=True)
class Candidate:
    """A mock prepared for matching."""

    mock: Mock  # the mock
    segments: tuple[RouteSegment, ...]  # its route
    checks: tuple[tuple[FieldCondition, Check], ...]  # its conditions, compiled
    rank: tuple[int, int, int]  # sort key: lower is better
    payload: Any = None  # whatever the serving layer attaches (compiled templates)


def make_candidate(
    mock: Mock, payload: Any = None, value_sources: Mapping[int, ValueSource] | None = None
) -> Candidate:
    """Compile a mock's route and conditions."""
    segments = parse_route(mock.route)
    literal = sum(1 for s in segments if not s.is_param)
    sources = value_sources or {}
    checks = tuple((c, compile_condition(c, sources.get(i))) for i, c in enumerate(mock.conditions))
    return Candidate(mock, segments, checks, (-mock.priority, -literal, mock.seq), payload)


@dataclass(slots=True)
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    here: list[Candidate] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A mock that almost matched, and why it did not."""

    mock_id: str  # which mock
    route: str  # its route
    method: str | None  # its method
    reason: str  # what failed

    def as_json(self) -> dict[str, Any]:
        """Wire shape."""
        return {
            "mockId": self.mock_id,
            "route": self.route,
            "method": self.method,
            "reason": self.reason,
        }


class MatchResult:
    """The outcome of matching one request (a plain slotted class: it is made per request)."""

    __slots__ = ("candidate", "near_misses", "path_params")

    def __init__(
        self,
        candidate: Candidate | None,
        path_params: Mapping[str, str],
        near_misses: tuple[NearMiss, ...] = (),
    ) -> None:
        self.candidate = candidate  # the winner
        self.path_params = path_params  # its parameters (shared: read-only)
        self.near_misses = near_misses  # when there is no winner


_ROUTE_CACHE_SIZE = 4096


class MockIndex:
    """All active mocks, indexed by namespace and route tree."""

    def __init__(self) -> None:
        self._trees: dict[str, _Node] = {}
        self._by_id: dict[str, Candidate] = {}
        # (namespace, path) -> routed candidates: repeated paths skip the tree walk. Cleared
        # on every change of the index, and when full.
        self._routes: dict[tuple[str, str], list[tuple[Candidate, dict[str, str]]]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, mock_id: str) -> Candidate | None:
        """The candidate of a mock id."""
        return self._by_id.get(mock_id)

    def namespaces(self) -> Iterable[str]:
        """Namespaces that hold at least one mock."""
        return self._trees.keys()

    def put(self, candidate: Candidate) -> None:
        """Add a mock, replacing any previous version of the same id."""
        self.remove(candidate.mock.id)
        self._routes.clear()
        node = self._trees.setdefault(candidate.mock.namespace, _Node())
        for seg in candidate.segments:
            if seg.is_param:
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node = node.literal.setdefault(seg.text, _Node())
        node.here.append(candidate)
        node.here.sort(key=lambda c: c.rank)
        self._by_id[candidate.mock.id] = candidate

    def remove(self, mock_id: str) -> None:
        """Forget a mock (no-op when absent)."""
        self._routes.clear()
        old = self._by_id.pop(mock_id, None)
        if old is None:
            return
        node: _Node | None = self._trees.get(old.mock.namespace)
        for seg in old.segments:
            if node is None:
                return
            node = node.param if seg.is_param else node.literal.get(seg.text)
        if node is not None:
            node.here = [c for c in node.here if c.mock.id != mock_id]

    def _route_matches(
        self, namespace: str, segments: list[str]
    ) -> list[tuple[Candidate, dict[str, str]]]:
        root = self._trees.get(namespace)
        if root is None:
            return []
        found: list[tuple[Candidate, dict[str, str]]] = []
        # Depth-first over literal and parameter branches; each branch adds its terminal mocks.
        stack: list[tuple[_Node, int, tuple[tuple[str, str], ...]]] = [(root, 0, ())]
        while stack:
            node, depth, params = stack.pop()
            if depth == len(segments):
                for cand in node.here:
                    found.append((cand, dict(_bind(cand, params))))
                continue
            seg = segments[depth]
            child = node.literal.get(seg)
            if child is not None:
                stack.append((child, depth + 1, params))
            if node.param is not None:
                stack.append((node.param, depth + 1, (*params, ("", seg))))
        if len(found) > 1:
            found.sort(key=lambda item: item[0].rank)
        return found

    def match(self, namespace: str, request: RequestSnapshot, path: str) -> MatchResult:
        """The best mock of ``namespace`` for ``request`` at ``path`` (the route part)."""
        key = (namespace, path)
        routed = self._routes.get(key)
        if routed is None:
            routed = self._route_matches(namespace, split_path(path))
            if len(self._routes) >= _ROUTE_CACHE_SIZE:
                self._routes.clear()
            self._routes[key] = routed
        failures: list[tuple[Candidate, FieldCondition | None, Any]] = []
        for cand, params in routed:
            mock = cand.mock
            if mock.method is not None and mock.method != request.method:
                failures.append((cand, None, None))
                continue
            for cond, check in cand.checks:
                ok, actual = check(request, params)
                if not ok:
                    failures.append((cand, cond, actual))
                    break
            else:
                return MatchResult(cand, params)
        # No winner: only now put the failures into words.
        misses = [
            _near_miss(cand, cond, actual, request.method) for cand, cond, actual in failures[:5]
        ]
        if not misses:
            misses = self._closest_routes(namespace, split_path(path))
        return MatchResult(None, {}, tuple(misses))

    def _closest_routes(
        self, namespace: str, segments: list[str], limit: int = 5, visits: int = 256
    ) -> list[NearMiss]:
        """Mocks under the deepest tree node the path reaches (bounded: a 404 stays cheap)."""
        node = self._trees.get(namespace)
        if node is None:
            return []
        # Follow the path as far as the tree goes, preferring literal branches.
        for seg in segments:
            child = node.literal.get(seg) or node.param
            if child is None:
                break
            node = child
        found: list[Candidate] = []
        queue = [node]
        seen = 0
        while queue and len(found) < limit and seen < visits:
            current = queue.pop(0)
            seen += 1
            found.extend(current.here)
            queue.extend(current.literal.values())
            if current.param is not None:
                queue.append(current.param)
        found.sort(key=lambda c: c.rank)
        return [
            NearMiss(c.mock.id, c.mock.route, c.mock.method, f"route {c.mock.route} does not match")
            for c in found[:limit]
        ]


def _near_miss(cand: Candidate, cond: FieldCondition | None, actual: Any, method: str) -> NearMiss:
    mock = cand.mock
    if cond is None:
        reason = f"method {method} does not match {mock.method}"
    else:
        reason = f"condition failed: {describe(cond)} (got {_as_text(actual)})"
    return NearMiss(mock.id, mock.route, mock.method, reason)


def _bind(cand: Candidate, values: tuple[tuple[str, str], ...]) -> Iterable[tuple[str, str]]:
    names = [s.text for s in cand.segments if s.is_param]
    return zip(names, (v for _, v in values), strict=False)
